"""Real clients against a real HTTP server on 127.0.0.1 that verifies with `verify_request`.

The server is a bare aiohttp handler (not the gateway): it turns the request into an `HttpRequest`,
verifies it and answers either a minimal success or `error_for`'s error in the protocol's form.
Clients: boto3 (CRT signer, since awscrt is installed) and the aws CLI v1 as a subprocess, once with
the CRT signer and once with botocore's Python signer (`BOTO_DISABLE_CRT=true`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
import boto3
import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from podid.wire.checksums import checksum_of
from podid.wire.http import Headers, HttpRequest
from podid.wire.sigv4 import (
    SigningCredential,
    SigV4Failure,
    credential_scope,
    error_for,
    unknown_key_failure,
    verify_request,
)

pytestmark = pytest.mark.e2e

AKID = "AKIAPODIDTESTKEY0001"
SECRET = "podid/secret+key/for/tests0000000000000"
ARN = "arn:aws:iam::123456789012:user/alice"
AWS = str(Path(sys.executable).parent / "aws")


def _lookup(access_key_id: str, session_token: str | None, /) -> SigningCredential:
    if access_key_id != AKID:
        raise unknown_key_failure(access_key_id)
    return SigningCredential(AKID, SECRET, None, principal=ARN)


class Server:
    """Verifies every request; `skew` moves its clock."""

    def __init__(self) -> None:
        self.skew = timedelta()
        self.seen: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path, _, query = request.raw_path.partition("?")
        headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers])
        wire = HttpRequest(method=request.method, path=path, query=query, headers=headers, body=body)
        scope = credential_scope(wire)
        service = scope.service if scope else "s3"
        protocol = "rest-xml" if service == "s3" else "query"
        try:
            verified = verify_request(
                wire, _lookup, datetime.now(UTC) + self.skew, service=service, s3=service == "s3"
            )
        except SigV4Failure as failure:
            error = error_for(failure, protocol)
            if protocol == "query":
                xml = (
                    f"<ErrorResponse><Error><Type>Sender</Type><Code>{error.code}</Code>"
                    f"<Message>{escape(error.message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
                )
            else:
                xml = f"<Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message></Error>"
            return web.Response(status=error.status, body=xml.encode(), content_type="text/xml")
        self.seen.append(f"{service} {request.method} {verified.presigned}")
        if service == "sts":
            xml = (
                '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<GetCallerIdentityResult><Arn>{ARN}</Arn><UserId>AIDAEXAMPLE</UserId>"
                "<Account>123456789012</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
            )
            return web.Response(body=xml.encode(), content_type="text/xml")
        crc = headers.get("x-amz-checksum-crc32")
        if crc is not None and crc != checksum_of("CRC32", body):
            return web.Response(status=400, body=b"<Error><Code>BadDigest</Code></Error>")
        return web.Response(body=b"payload" if request.method == "GET" else b"", headers={"ETag": '"e"'})


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _client(service: str, endpoint: str, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id=AKID,
        aws_secret_access_key=secret,
    )


async def test_boto3_sts_and_s3(server: tuple[Server, str]) -> None:
    state, endpoint = server
    sts = _client("sts", endpoint)
    identity = await asyncio.to_thread(sts.get_caller_identity)
    assert identity["Arn"] == ARN
    s3 = _client("s3", endpoint)
    await asyncio.to_thread(s3.put_object, Bucket="bucket", Key="dir/a b+c~d.txt", Body=b"hello" * 1000)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "x/ü y"}, ExpiresIn=60)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
    assert state.seen == ["sts POST False", "s3 PUT False", "s3 GET True"]


async def test_boto3_refusals(server: tuple[Server, str]) -> None:
    state, endpoint = server
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(_client("sts", endpoint, secret="wrong").get_caller_identity)
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    state.skew = timedelta(minutes=16)
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(_client("sts", endpoint).get_caller_identity)
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert info.value.response["Error"]["Message"].startswith("Signature expired:")
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(_client("s3", endpoint).head_bucket, Bucket="bucket")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("disable_crt", ["false", "true"])
async def test_aws_cli(server: tuple[Server, str], disable_crt: str, tmp_path: Path) -> None:
    _, endpoint = server
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": AKID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "eu-central-1",
        "BOTO_DISABLE_CRT": disable_crt,
    }
    upload = tmp_path / "file name.txt"
    upload.write_bytes(b"x" * 20000)
    commands = [
        ["sts", "get-caller-identity"],
        ["s3", "cp", str(upload), "s3://bucket/some dir/file name.txt"],
        ["s3api", "get-object", "--bucket", "bucket", "--key", "k~(1)", str(tmp_path / "out")],
    ]
    # `aws s3 presign` signs SigV4 in eu-central-1 but SigV2 (query) in us-west-2 by default
    presigns = {
        region: ["s3", "presign", "s3://bucket/pre signed/ü"] for region in ("eu-central-1", "us-west-2")
    }
    wrong = {**env, "AWS_SECRET_ACCESS_KEY": "wrong"}
    results = await asyncio.gather(
        *(_aws(command, endpoint, env) for command in commands),
        *(_aws(command, endpoint, {**env, "AWS_DEFAULT_REGION": r}) for r, command in presigns.items()),
        _aws(["sts", "get-caller-identity"], endpoint, wrong),
    )
    for command, (code, _, err) in zip(commands, results, strict=False):
        assert code == 0, (command, err)
    for region, (code, out, err) in zip(presigns, results[len(commands) :], strict=False):
        assert code == 0, err
        url = out.strip()
        assert ("X-Amz-Signature=" in url) is (region == "eu-central-1")
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200, await response.text()
    code, _, err = results[-1]
    assert code != 0
    assert "SignatureDoesNotMatch" in err


async def _aws(command: list[str], endpoint: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        AWS, *command, "--endpoint-url", endpoint, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
