"""A small fake EKS Auth for agent tests: the real wire form, SigV4 checked with botocore as reference.

It answers `POST /clusters/{name}/assume-role-for-pod-identity` like EKS Auth (rest-json, epoch-second
`expiration`), or with errors on demand in the exact wire form (`x-amzn-ErrorType`, body
`{"message": ...}`, `x-amzn-RequestId`). Every request's signature is recomputed with botocore's
`SigV4Auth` from the node credentials the fake knows; a mismatch is answered like AWS
(`InvalidSignatureException`, 403) and counted, so tests can assert zero bad signatures.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from podid.clock import Clock, SystemClock

NODE_ACCESS_KEY = "AKIANODEROLEEXAMPLE1"
NODE_SECRET_KEY = "node/secret/key/EXAMPLE/0123456789abcdefgh"
ACCOUNT = "111122223333"


@dataclass
class FailRule:
    code: str
    status: int
    message: str
    times: int  # -1: forever


@dataclass
class FakeEksAuth:
    clock: Clock = field(default_factory=SystemClock)
    region: str = "us-west-2"
    lifetime: float = 6 * 3600.0
    delay: float = 0.0
    calls: int = 0
    bad_signatures: int = 0
    tokens: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    failures: list[FailRule] = field(default_factory=list)
    respond: Callable[[str], dict[str, Any]] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    _runner: web.AppRunner | None = None
    called: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def fail(self, code: str, status: int, message: str = "injected", times: int = -1) -> None:
        self.failures.append(FailRule(code, status, message, times))

    def heal(self) -> None:
        self.failures.clear()

    async def start(self) -> FakeEksAuth:
        app = web.Application()
        app.router.add_post("/clusters/{name}/assume-role-for-pod-identity", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, backlog=4096)
        await site.start()
        if self.port == 0:
            server = getattr(site, "_server", None)
            self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _signature_ok(self, request: web.Request, body: bytes) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return False
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
        signed = fields.get("SignedHeaders", "").split(";")
        scope = fields.get("Credential", "").split("/")
        if scope[0] != NODE_ACCESS_KEY or scope[2:5] != [self.region, "eks-auth", "aws4_request"]:
            return False
        headers = {name: request.headers.get(name, "") for name in signed}
        url = f"http://{request.headers.get('Host', '')}{request.raw_path}"
        reference = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        reference.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        node = ReadOnlyCredentials(NODE_ACCESS_KEY, NODE_SECRET_KEY, None)
        signer = SigV4Auth(node, "eks-auth", self.region)
        canonical = signer.canonical_request(reference)
        expected = signer.signature(signer.string_to_sign(reference, canonical), reference)
        return bool(expected == fields.get("Signature"))

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls += 1
        self.called.set()
        request_id = str(uuid.uuid4())
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._signature_ok(request, body):
            self.bad_signatures += 1
            return self._error(
                "InvalidSignatureException",
                403,
                "The request signature we calculated does not match the signature you provided.",
                request_id,
            )
        token = json.loads(body)["token"]
        self.tokens.append(token)
        self.clusters.append(request.match_info["name"])
        for rule in self.failures:
            if rule.times != 0:
                if rule.times > 0:
                    rule.times -= 1
                return self._error(rule.code, rule.status, rule.message, request_id)
        doc = self.respond(token) if self.respond is not None else self.success(token)
        return web.Response(
            body=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json", "x-amzn-RequestId": request_id},
        )

    def success(self, token: str) -> dict[str, Any]:
        n = self.calls
        expiration = self.clock.now() + timedelta(seconds=self.lifetime)
        session = f"eks-cluster-app-1-{uuid.uuid4()}"
        return {
            "subject": {"namespace": "default", "serviceAccount": "app"},
            "audience": "pods.eks.amazonaws.com",
            "podIdentityAssociation": {
                "associationArn": f"arn:aws:eks:{self.region}:{ACCOUNT}:podidentityassociation/c/a-0123",
                "associationId": "a-0123456789abcdefg",
            },
            "assumedRoleUser": {
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/{session}",
                "assumeRoleId": f"AROAEXAMPLEROLEID0001:{session}",
            },
            "credentials": {
                "sessionToken": f"session-token-{n}",
                "secretAccessKey": f"secret-{n}",
                "accessKeyId": f"ASIAFAKE{n:012d}",
                "expiration": expiration.timestamp(),
            },
        }

    @staticmethod
    def _error(code: str, status: int, message: str, request_id: str) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps({"message": message}).encode(),
            headers={
                "Content-Type": "application/json",
                "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.eksauth/",
                "x-amzn-RequestId": request_id,
            },
        )
