"""Full-path AssumeRoleForPodIdentity over HTTP: SigV4 of the node role, JWT verification, association
lookup, trust-policy evaluation, credential minting, serialization, audit.

Three processes: the endpoint (this file with `--serve`: the real `Endpoint`, as `serve` runs it, without
the local runtime), the load generator (this file with `--load`) and this driver. The
driver creates a cluster, a pod role and an association per pod, and node-role credentials through
the real APIs, then issues 256 distinct pod tokens (signed with the cluster's key read from the
store) and pre-signs one request per token with the node role's session credentials (SigV4
signatures stay valid for 15 minutes, so replaying them costs the server exactly what fresh ones
would). The load generator keeps `CONCURRENCY` requests in flight for `DURATION` seconds.

Target (issue 4): >= 1,500 requests per second with p99 < 20 ms at 32 concurrent clients.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ACCOUNT = "111122223333"
REGION = "us-west-2"
DURATION = 5.0
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
async def _load(
    url: str, requests: list[dict[str, Any]], concurrency: int, duration: float
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + duration
    counter = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                req = requests[next(counter) % len(requests)]
                started = time.perf_counter()
                async with session.post(url + req["path"], data=req["body"], headers=req["headers"]) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors[str(resp.status)] = errors.get(str(resp.status), 0) + 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "count": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        "errors": errors,
    }


def load_main(argv: list[str]) -> None:
    url, path, concurrency, duration = argv[0], argv[1], int(argv[2]), float(argv[3])
    requests = json.loads(Path(path).read_text())
    print(json.dumps(asyncio.run(_load(url, requests, concurrency, duration))), flush=True)


# --- the driver ----------------------------------------------------------------------------------
def _setup(url: str, admin: dict[str, str], state_dir: Path) -> list[dict[str, Any]]:
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
        requests.append({"path": path, "body": body, "headers": dict(aws_request.headers.items())})
    return requests


async def _run() -> dict[int, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(state_dir), stdout=asyncio.subprocess.PIPE, env=env
        )
        try:
            assert server.stdout is not None
            info = json.loads(await asyncio.wait_for(server.stdout.readline(), 60))
            requests = await asyncio.to_thread(_setup, info["url"], info, state_dir)
            req_file = Path(tmp) / "requests.json"
            req_file.write_text(json.dumps(requests))
            results: dict[int, Any] = {}
            for concurrency in (1, CONCURRENCY):
                args = [info["url"], str(req_file), str(concurrency), str(DURATION)]
                load = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--load", *args, stdout=asyncio.subprocess.PIPE, env=env
                )
                out, _ = await load.communicate()
                results[concurrency] = json.loads(out)
            return results
        finally:
            server.terminate()
            await server.wait()


def main() -> None:
    results = asyncio.run(_run())
    print(f"AssumeRoleForPodIdentity over HTTP, {DURATION:.0f} s per row, {TOKENS} distinct pod tokens")
    print(f"{'clients':>8} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  errors")
    for concurrency, r in results.items():
        print(
            f"{concurrency:>8} {r['count']:>9} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}  "
            f"{r['errors'] or '-'}"
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
