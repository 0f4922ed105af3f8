"""AssumeRoleWithWebIdentity over HTTP: a local cluster issuer, a foreign issuer (keys cached), and
AssumeRole (SigV4-signed) for comparison; plus the token checks alone, in process.

Each HTTP figure is N sequential calls from one botocore client to an endpoint on 127.0.0.1 (the
endpoint runs in a thread of this process, so client and server share the CPU): calls/s and
p50/p99 latency. The in-process figure is `parse_token` + `verify_signature` (RS256) per second.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from podid.gateway.testing import running_endpoint
from podid.kube.issuer import TokenIssuer, generate_signing_key
from podid.services.sts.webidentity import parse_token, verify_signature

N = 300
ACCOUNT = "111122223333"


def _trust(provider_arn: str, hostpath: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{hostpath}:sub": "system:serviceaccount:demo-ns:demo-sa",
                                       f"{hostpath}:aud": "sts.amazonaws.com"}},
    }]})  # fmt: skip


def _plain_trust(principal: dict[str, str]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _measure(call: Callable[[], Any]) -> tuple[float, float, float]:
    for _ in range(10):
        call()
    latencies = []
    began = time.perf_counter()
    for _ in range(N):
        start = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - start)
    total = time.perf_counter() - began
    latencies.sort()
    return N / total, statistics.median(latencies) * 1000, latencies[int(N * 0.99) - 1] * 1000


def _foreign_idp() -> tuple[ThreadingHTTPServer, TokenIssuer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = TokenIssuer(generate_signing_key(), f"http://127.0.0.1:{server.server_address[1]}/idp")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = issuer.discovery_document() if self.path.endswith("configuration") else issuer.jwks()
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, issuer


def main() -> None:
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(Path(tmp)) as ep:
        iam, eks = ep.boto3_client("iam"), ep.boto3_client("eks")
        iam.create_role(
            RoleName="cluster", AssumeRolePolicyDocument=_plain_trust({"Service": "eks.amazonaws.com"})
        )
        issuer_url = eks.create_cluster(
            name="bench", roleArn=f"arn:aws:iam::{ACCOUNT}:role/cluster", resourcesVpcConfig={}
        )["cluster"]["identity"]["oidc"]["issuer"]
        local_arn = iam.create_open_id_connect_provider(Url=issuer_url, ClientIDList=["sts.amazonaws.com"])[
            "OpenIDConnectProviderArn"
        ]
        iam.create_role(
            RoleName="local", AssumeRolePolicyDocument=_trust(local_arn, issuer_url.split("://")[1])
        )
        server, foreign = _foreign_idp()
        foreign_arn = iam.create_open_id_connect_provider(
            Url=foreign.issuer_url, ClientIDList=["sts.amazonaws.com"]
        )["OpenIDConnectProviderArn"]
        iam.create_role(
            RoleName="foreign",
            AssumeRolePolicyDocument=_trust(foreign_arn, foreign.issuer_url.split("://")[1]),
        )
        admin_arn = f"arn:aws:iam::{ACCOUNT}:user/admin"
        iam.create_role(RoleName="plain", AssumeRolePolicyDocument=_plain_trust({"AWS": admin_arn}))

        cluster = ep.endpoint.services.eks.cluster_by_name(ACCOUNT, ep.endpoint.region, "bench")
        local = ep.call(lambda: ep.endpoint.services.eks.issuer_for(cluster))
        now = datetime.now(UTC)
        local_token = local.issue(
            "demo-ns", "demo-sa", audience=["sts.amazonaws.com"], duration_s=3600, now=now
        )
        foreign_token = foreign.issue(
            "demo-ns", "demo-sa", audience=["sts.amazonaws.com"], duration_s=3600, now=now
        )
        unsigned = boto3.session.Session().client(
            "sts", endpoint_url=ep.url, region_name="us-west-2", config=Config(signature_version=UNSIGNED)
        )
        signed = ep.boto3_client("sts")

        def web(role: str, token: str) -> Callable[[], Any]:
            return lambda: unsigned.assume_role_with_web_identity(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="bench", WebIdentityToken=token
            )

        cases = [
            ("AssumeRoleWithWebIdentity, local issuer", web("local", local_token)),
            ("AssumeRoleWithWebIdentity, foreign (cached)", web("foreign", foreign_token)),
            ("AssumeRole (SigV4), for comparison", lambda: signed.assume_role(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/plain", RoleSessionName="bench")),
        ]  # fmt: skip
        for name, call in cases:
            rate, p50, p99 = _measure(call)
            rows.append((name, f"{rate:,.0f}/s", f"{p50:.2f} ms", f"{p99:.2f} ms"))
        server.shutdown()
        server.server_close()

    jwk = local.jwks()["keys"][0]
    cpu_began = time.process_time()
    count = 0
    while time.process_time() - cpu_began < 1.0:
        verify_signature(parse_token(local_token), jwk)
        count += 1
    per_s = count / (time.process_time() - cpu_began)
    rows.append(("parse + RS256 verify, in process (CPU)", f"{per_s:,.0f}/s", "", ""))

    print(f"{'measure':<46} {'rate':>10} {'p50':>10} {'p99':>10}")
    for label, shown_rate, shown_p50, shown_p99 in rows:
        print(f"{label:<46} {shown_rate:>10} {shown_p50:>10} {shown_p99:>10}")
    print(f"({N} sequential calls each; client and endpoint in one process)")


if __name__ == "__main__":
    main()
