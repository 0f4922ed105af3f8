"""Real clients against `podid agent` as a subprocess: botocore's ContainerProvider, the aws CLI v1,
and SIGTERM draining in-flight requests."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ContainerProvider, ReadOnlyCredentials

from podid.clock import FakeClock
from tests.agent.agent_process import start_agent_process
from tests.agent.fake_eksauth import ACCOUNT, FakeEksAuth
from tests.agent.helpers import make_token

AWS = str(Path(sys.executable).with_name("aws"))
pytestmark = pytest.mark.e2e


@pytest.fixture
async def live_fake() -> AsyncIterator[FakeEksAuth]:
    # The agent subprocess reads the real clock, so the fake issues real-time credentials.
    server = await FakeEksAuth().start()
    try:
        yield server
    finally:
        await server.stop()


def _token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "eks-pod-identity-token"
    path.write_text(token)  # no trailing newline: botocore refuses one (reference §7)
    return path


async def test_botocore_container_provider(live_fake: FakeEksAuth, tmp_path: Path, clock: FakeClock) -> None:
    agent = await start_agent_process(live_fake.url)
    try:
        token_file = _token_file(tmp_path, make_token(clock.now()))
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.credentials_url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        }
        creds = await asyncio.to_thread(lambda: ContainerProvider(environ=env).load())
        assert creds is not None
        assert creds.method == "container-role"
        frozen = await asyncio.to_thread(creds.get_frozen_credentials)
        assert frozen.access_key == "ASIAFAKE000000000001"
        assert frozen.secret_key == "secret-1"
        assert frozen.token == "session-token-1"
        assert creds.account_id == ACCOUNT
        # localhost works too (a loopback bind host allows it)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://localhost:{agent.port}/v1/credentials"
        again = await asyncio.to_thread(lambda: ContainerProvider(environ=env).load())
        assert again is not None
        assert live_fake.calls == 1  # served from the cache
        assert live_fake.bad_signatures == 0
    finally:
        assert await agent.terminate() == 0


class FakeSts:
    """GetCallerIdentity that checks the SigV4 signature against the credentials the fake EKS Auth issued."""

    def __init__(self) -> None:
        self.seen_keys: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers["Authorization"]
        fields = dict(p.strip().split("=", 1) for p in auth.split(" ", 1)[1].split(","))
        key = fields["Credential"].split("/")[0]
        n = int(key[len("ASIAFAKE") :])
        signed = fields["SignedHeaders"].split(";")
        ref = AWSRequest(
            method="POST",
            url=f"http://{request.headers['Host']}/",
            data=body,
            headers={h: request.headers[h] for h in signed},
        )
        ref.context["timestamp"] = request.headers["X-Amz-Date"]
        signer = SigV4Auth(ReadOnlyCredentials(key, f"secret-{n}", f"session-token-{n}"), "sts", "us-west-2")
        expected = signer.signature(signer.string_to_sign(ref, signer.canonical_request(ref)), ref)
        if (
            expected != fields["Signature"]
            or request.headers.get("X-Amz-Security-Token") != f"session-token-{n}"
        ):
            return web.Response(
                status=403,
                text="<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
                "<Message>bad</Message></Error></ErrorResponse>",
                content_type="text/xml",
            )
        self.seen_keys.append(key)
        arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/eks-demo-app-1"
        xml = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            f"<Arn>{arn}</Arn><UserId>AROAEXAMPLE:eks-demo-app-1</UserId><Account>{ACCOUNT}</Account>"
            "</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>"
        )
        return web.Response(text=xml, content_type="text/xml")


async def test_aws_cli_v1_uses_the_agent(live_fake: FakeEksAuth, tmp_path: Path, clock: FakeClock) -> None:
    sts = FakeSts()
    await sts.start()
    agent = await start_agent_process(live_fake.url)
    try:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_ACCESS") and k != "AWS_SECRET_ACCESS_KEY"
        }
        env.update(
            {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.credentials_url,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(_token_file(tmp_path, make_token(clock.now()))),
                "AWS_DEFAULT_REGION": "us-west-2",
            }
        )
        proc = await asyncio.create_subprocess_exec(
            AWS,
            "sts",
            "get-caller-identity",
            "--endpoint-url",
            f"http://127.0.0.1:{sts.port}",
            "--output",
            "json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert json.loads(out)["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/")
        assert sts.seen_keys == ["ASIAFAKE000000000001"]
    finally:
        await agent.terminate()
        await sts.stop()


async def test_sigterm_drains_in_flight_requests(live_fake: FakeEksAuth, clock: FakeClock) -> None:
    import aiohttp

    live_fake.delay = 0.6
    agent = await start_agent_process(live_fake.url, extra_args=["--shutdown-grace", "5s"])
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(
            session.get(agent.credentials_url, headers={"Authorization": make_token(clock.now())})
        )
        await asyncio.wait_for(live_fake.called.wait(), 10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        code = await agent.terminate(10)
        resp = await request
        assert resp.status == 200
        assert json.loads(await resp.read())["AccessKeyId"] == "ASIAFAKE000000000001"
        resp.release()
    assert code == 0
    assert loop.time() - started < 5


async def test_agent_without_cluster_name_fails_like_cobra() -> None:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("podid")),
        "agent",
        "--bind-hosts",
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b'required flag(s) "cluster-name" not set' in err
