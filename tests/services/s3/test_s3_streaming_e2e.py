"""Streaming uploads as S3 receives them, built with botocore's own signer and checksum code.

Over plain http botocore signs payloads whole, so the aws-chunked forms are built here: the seed
signature by botocore's `S3SigV4Auth` (its `payload` giving the STREAMING-* value), chunk and trailer
signatures by the same signer's `signature()` (botocore's key derivation and HMAC), unsigned-trailer
bodies by botocore's `AwsChunkedWrapper` with its checksum classes. Each request goes to the live
endpoint over a raw HTTP connection; every refusal must leave nothing stored.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, CrtCrc32cChecksum, Sha256Checksum
from tests.services.s3.s3_support import make_bucket

from podid.gateway.testing import RunningEndpoint
from podid.services.s3 import S3Provider

EMPTY = hashlib.sha256(b"").hexdigest()
CHUNK = 64 * 1024


class StreamingSigner(S3SigV4Auth):  # type: ignore[misc]
    """botocore's S3 signer with the payload hash set to a STREAMING-* mode."""

    def __init__(self, credentials: Credentials, mode: str) -> None:
        super().__init__(credentials, "s3", "us-west-2")
        self.mode = mode

    def payload(self, request: Any) -> str:
        return self.mode


def send(ep: RunningEndpoint, request: AWSRequest, body: bytes) -> tuple[int, bytes]:
    parts = urlsplit(ep.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        path = urlsplit(request.url).path
        conn.putrequest(request.method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def signed_chunked(
    ep: RunningEndpoint,
    url: str,
    payload: bytes,
    *,
    trailer: tuple[str, str] | None = None,
    tamper: bool = False,
    declared: int | None = None,
) -> tuple[AWSRequest, bytes]:
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    chunks = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(payload) if declared is None else declared),
        "Host": urlsplit(ep.url).netloc,
    }
    if trailer:
        headers["X-Amz-Trailer"] = trailer[0]
    request = AWSRequest(method="PUT", url=url, headers=headers)
    signer = StreamingSigner(Credentials(ep.admin.access_key_id, ep.admin.secret_access_key), mode)
    signer.add_auth(request)
    previous = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    scope = signer.credential_scope(request)
    stamp = request.context["timestamp"]
    out = bytearray()
    for data in [*chunks, b""]:
        text = "\n".join(
            ("AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, EMPTY, hashlib.sha256(data).hexdigest())
        )
        signature = signer.signature(text, request)
        shown = (
            ("0" if signature[0] != "0" else "1") + signature[1:]
            if tamper and data is chunks[-1]
            else signature
        )
        out += b"%x;chunk-signature=%s\r\n" % (len(data), shown.encode()) + data
        out += b"\r\n" if data else b""
        previous = signature
    if trailer:
        line = f"{trailer[0]}:{trailer[1]}"
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                stamp,
                scope,
                previous,
                hashlib.sha256((line + "\n").encode()).hexdigest(),
            )
        )
        out += f"{line}\r\nx-amz-trailer-signature:{signer.signature(text, request)}\r\n\r\n".encode()
    else:
        out += b"\r\n"
    request.headers["Content-Length"] = str(len(out))
    return request, bytes(out)


def unsigned_trailer(
    ep: RunningEndpoint, url: str, payload: bytes, checksum_cls: type, name: str, *, corrupt: bool = False
) -> tuple[AWSRequest, bytes]:
    encoded = AwsChunkedWrapper(io.BytesIO(payload), checksum_cls=checksum_cls, checksum_name=name).read()
    if corrupt:
        head, _, value = encoded.rpartition(f"{name}:".encode())
        encoded = head + f"{name}:".encode() + (b"A" if value[:1] != b"A" else b"B") + value[1:]
    https = url.replace("http://", "https://")  # botocore uses the unsigned trailer over https
    request = AWSRequest(
        method="PUT",
        url=https,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Trailer": name,
            "X-Amz-Decoded-Content-Length": str(len(payload)),
            "Content-Length": str(len(encoded)),
            "Host": urlsplit(ep.url).netloc,
        },
    )
    request.context["checksum"] = {"request_algorithm": {"in": "trailer", "algorithm": "x", "name": name}}
    S3SigV4Auth(Credentials(ep.admin.access_key_id, ep.admin.secret_access_key), "s3", "us-west-2").add_auth(
        request
    )
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    return request, encoded


@pytest.fixture
def bucket(s3: Any) -> str:
    return make_bucket(s3)


def test_signed_chunks(ep: RunningEndpoint, s3: Any, bucket: str) -> None:
    payload = os.urandom(3 * CHUNK + 1234)
    request, body = signed_chunked(ep, f"{ep.url}/{bucket}/signed", payload)
    status, text = send(ep, request, body)
    assert status == 200, text
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == payload


def test_signed_chunks_with_signed_trailer(ep: RunningEndpoint, s3: Any, bucket: str) -> None:
    payload = os.urandom(2 * CHUNK + 10)
    c = Sha256Checksum()
    c.update(payload)
    request, body = signed_chunked(
        ep, f"{ep.url}/{bucket}/trailer", payload, trailer=("x-amz-checksum-sha256", c.b64digest())
    )
    status, text = send(ep, request, body)
    assert status == 200, text
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload
    assert got["ChecksumSHA256"] == c.b64digest()


@pytest.mark.parametrize(
    ("cls", "name"), [(Crc32Checksum, "x-amz-checksum-crc32"), (CrtCrc32cChecksum, "x-amz-checksum-crc32c")]
)
def test_unsigned_trailer(ep: RunningEndpoint, s3: Any, bucket: str, cls: type, name: str) -> None:
    payload = os.urandom(200_000)
    request, body = unsigned_trailer(ep, f"{ep.url}/{bucket}/unsigned", payload, cls, name)
    status, text = send(ep, request, body)
    assert status == 200, text
    member = "Checksum" + name.rsplit("-", 1)[1].upper()
    got = s3.get_object(Bucket=bucket, Key="unsigned", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload
    c = cls()
    c.update(payload)
    assert got[member] == c.b64digest()


def test_refusals_store_nothing(ep: RunningEndpoint, s3: Any, bucket: str) -> None:
    payload = os.urandom(2 * CHUNK + 99)
    url = f"{ep.url}/{bucket}/refused"
    cases = []
    cases.append((*signed_chunked(ep, url, payload, tamper=True), 403, b"SignatureDoesNotMatch"))
    cases.append(
        (
            *unsigned_trailer(ep, url, payload, Crc32Checksum, "x-amz-checksum-crc32", corrupt=True),
            400,
            b"BadDigest",
        )
    )
    # A hex x-amz-content-sha256 that does not match the streamed body.
    request = AWSRequest(method="PUT", url=url, data=payload, headers={"Host": urlsplit(ep.url).netloc})
    S3SigV4Auth(Credentials(ep.admin.access_key_id, ep.admin.secret_access_key), "s3", "us-west-2").add_auth(
        request
    )
    request.headers["Content-Length"] = str(len(payload))
    cases.append((request, payload[::-1], 400, b"XAmzContentSHA256Mismatch"))
    # A body shorter than x-amz-decoded-content-length.
    cases.append((*signed_chunked(ep, url, payload, declared=len(payload) + 1), 400, b"IncompleteBody"))
    for request, body, status, code in cases:
        got_status, text = send(ep, request, body)
        assert got_status == status, text
        assert b"<Code>" + code + b"</Code>" in text
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_client_disconnect_mid_body_stores_nothing(ep: RunningEndpoint, s3: Any, bucket: str) -> None:
    import socket
    import time

    payload = os.urandom(1 << 20)
    request = AWSRequest(method="PUT", url=f"{ep.url}/{bucket}/cut", data=payload)
    S3SigV4Auth(Credentials(ep.admin.access_key_id, ep.admin.secret_access_key), "s3", "us-west-2").add_auth(
        request
    )
    netloc = urlsplit(ep.url).netloc
    head = f"PUT /{bucket}/cut HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: {len(payload)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", ep.endpoint.port)) as sock:
        sock.sendall(head.encode() + payload[: len(payload) // 3])
        time.sleep(0.2)
    provider = ep.endpoint.services.providers["s3"]
    assert isinstance(provider, S3Provider)
    blobs = provider.domain.blobs
    deadline = time.monotonic() + 5
    while any(blobs.tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(blobs.tmp.iterdir()) == []
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.put_object(Bucket=bucket, Key="after", Body=b"still serving")
