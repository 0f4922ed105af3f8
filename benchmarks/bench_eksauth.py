"""Full-path AssumeRoleForPodIdentity over HTTP: SigV4 of the node role, JWT verification, association
lookup, trust-policy evaluation, credential minting, serialization, audit.

Three processes: the endpoint (this file with `--serve`: the real `Endpoint`, as `serve` runs it, without
the local runtime), the load generator (this file with `--load`) and this driver. The
driver creates a cluster, a pod role and an association per pod, and node-role credentials through
the real APIs, then issues 256 distinct pod tokens (signed with the cluster's key read from the
store) and pre-signs one request per token with the node role's session credentials (SigV4
signatures stay valid for 15 minutes, so replaying them costs the server exactly what fresh ones
would). The load generator (`benchmarks.bench_endpoint`'s minimal keep-alive HTTP/1.1 client, so that
the client's own cost stays small on a two-CPU machine) keeps `CONCURRENCY` requests in flight for
`DURATION` seconds after a `WARMUP`-second warm-up; the endpoint's CPU time per request is read from
/proc (robust when other processes load the machine, unlike req/s).

Target (issue 4): >= 1,500 requests per second with p99 < 20 ms at 32 concurrent clients.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ACCOUNT = "111122223333"
REGION = "us-west-2"
DURATION = 5.0
WARMUP = 1.0
CONCURRENCY = 32
TOKENS = 256
TARGET_RPS = 1500
TARGET_P99_MS = 20.0

POD_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


# --- the endpoint process ------------------------------------------------------------------------
def serve_main(state_dir: str) -> None:
    from podid.gateway.endpoint import Endpoint, EndpointConfig

    async def run() -> None:
        config = EndpointConfig(
            state_dir=Path(state_dir),
            port=0,
            ephemeral=False,
            account_id=ACCOUNT,
            region=REGION,
            runtime=False,
        )
        endpoint = Endpoint(config)
        await endpoint.start()
        print(json.dumps({"url": endpoint.url, **endpoint.admin.__dict__}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


# --- the load generator process ------------------------------------------------------------------
def load_main(argv: list[str]) -> None:
    from benchmarks.bench_endpoint import LOAD_CPU, _load, pin

    pin(0, LOAD_CPU)
    port, path, concurrency, duration = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    requests = [r.encode("latin-1") for r in json.loads(Path(path).read_text())]
    print(json.dumps(asyncio.run(_load(port, requests, concurrency, WARMUP, duration))), flush=True)


# --- the driver ----------------------------------------------------------------------------------
def _setup(url: str, admin: dict[str, str], state_dir: Path) -> list[str]:
    """Cluster, roles, associations and node credentials; then the raw signed HTTP requests."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from podid.kube.issuer import TokenIssuer
    from podid.services.eks.domain import read_cluster
    from podid.store import Store

    session = boto3.session.Session(
        aws_access_key_id=admin["access_key_id"],
        aws_secret_access_key=admin["secret_access_key"],
        region_name=REGION,
    )
    iam = session.client("iam", endpoint_url=url)
    eks = session.client("eks", endpoint_url=url)
    cluster_role = iam.create_role(RoleName="cluster", AssumeRolePolicyDocument=POD_TRUST)["Role"]["Arn"]
    eks.create_cluster(name="bench", roleArn=cluster_role, resourcesVpcConfig={})
    pod_role = iam.create_role(RoleName="pod-role", AssumeRolePolicyDocument=POD_TRUST)["Role"]["Arn"]
    for i in range(16):
        eks.create_pod_identity_association(
            clusterName="bench", namespace=f"ns{i}", serviceAccount="sa", roleArn=pod_role
        )
    node_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam.create_role(RoleName="node", AssumeRolePolicyDocument=node_trust)
    iam.attach_role_policy(RoleName="node", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
    node = session.client("sts", endpoint_url=url).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/node", RoleSessionName="i-0bench"
    )["Credentials"]
    creds = Credentials(node["AccessKeyId"], node["SecretAccessKey"], node["SessionToken"])
    store = Store(state_dir / "podid.db")
    cluster = read_cluster(store, ACCOUNT, REGION, "bench")
    store.close()
    assert cluster is not None
    issuer = TokenIssuer(cluster.signing_key_pem.encode(), cluster.issuer_url(url))
    from datetime import UTC, datetime

    requests = []
    for i in range(TOKENS):
        token = issuer.issue(
            f"ns{i % 16}",
            "sa",
            audience=["pods.eks.amazonaws.com"],
            duration_s=86400,
            pod_name=f"pod-{i}",
            now=datetime.now(UTC),
        )
        path = "/clusters/bench/assume-role-for-pod-identity"
        body = json.dumps({"token": token})
        aws_request = AWSRequest(
            method="POST", url=url + path, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(creds, "eks-auth", REGION).add_auth(aws_request)
        lines = [f"POST {path} HTTP/1.1", f"Host: {url.split('//', 1)[1]}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in aws_request.headers.items()]
        requests.append("\r\n".join(lines) + "\r\n\r\n" + body)
    return requests


async def _run() -> dict[int, Any]:
    from benchmarks.bench_endpoint import SERVER_CPU, _cpu_seconds, pin

    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(state_dir), stdout=asyncio.subprocess.PIPE, env=env
        )
        pin(server.pid, SERVER_CPU)  # one core for the endpoint, another for the load generator
        try:
            assert server.stdout is not None
            info = json.loads(await asyncio.wait_for(server.stdout.readline(), 60))
            requests = await asyncio.to_thread(_setup, info["url"], info, state_dir)
            req_file = Path(tmp) / "requests.json"
            req_file.write_text(json.dumps(requests))
            results: dict[int, Any] = {}
            port = info["url"].rsplit(":", 1)[1]
            for concurrency in (1, CONCURRENCY):
                args = [port, str(req_file), str(concurrency), str(DURATION)]
                load = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--load", *args, stdout=asyncio.subprocess.PIPE, env=env
                )
                cpu_before = _cpu_seconds(server.pid)
                out, _ = await load.communicate()
                cpu = _cpu_seconds(server.pid) - cpu_before
                row = json.loads(out)
                row["cpu_us"] = cpu / row["total"] * 1e6 if row["total"] else 0.0
                results[concurrency] = row
            return results
        finally:
            server.terminate()
            await server.wait()


def main() -> None:
    results = asyncio.run(_run())
    loadavg = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"AssumeRoleForPodIdentity over HTTP, {DURATION:.0f} s per row after {WARMUP:.0f} s warm-up, "
        f"{TOKENS} distinct pod tokens; {os.cpu_count()} CPUs, load average {loadavg}"
    )
    print(
        f"{'clients':>8} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10}  "
        "statuses"
    )
    for concurrency, r in results.items():
        print(
            f"{concurrency:>8} {r['count']:>9} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['cpu_us']:>10.0f}  {r['statuses']}"
        )
    top = results[CONCURRENCY]
    verdict = "met" if top["rps"] >= TARGET_RPS and top["p99_ms"] < TARGET_P99_MS else "NOT met"
    print(f"target (>= {TARGET_RPS} req/s, p99 < {TARGET_P99_MS:.0f} ms at {CONCURRENCY} clients): {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve_main(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "--load":
        load_main(sys.argv[2:])
    else:
        main()
