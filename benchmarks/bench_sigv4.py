"""SigV4 verification cost per request, next to the cost of signing it with botocore.

Prints µs per operation for: verifying a signed STS POST, an EKS GET, an S3 PUT (payload hash of a
small body), an S3 presigned GET, an aws-chunked body (1 MiB in 64 KiB signed chunks, MiB/s), and
botocore's `SigV4Auth.add_auth` on the same STS request for scale. Target: verification well under
100 µs beyond hashing the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from podid.wire.chunked import decode_aws_chunked
from podid.wire.http import Headers, HttpRequest
from podid.wire.sigv4 import EMPTY_SHA256, SigningCredential, VerifiedRequest, verify_request

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _lookup(access_key_id: str, session_token: str | None, /) -> SigningCredential:
    return SigningCredential(access_key_id, SECRET)


def _signed(
    signer: SigV4Auth, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> HttpRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    parts = urlsplit(request.url)
    pairs = [(k, str(v)) for k, v in request.headers.items()] + [("Host", parts.netloc)]
    return HttpRequest(
        method=method, path=parts.path or "/", query=parts.query, headers=Headers(pairs), body=body
    )


def _time(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """µs of CPU per call of `fn`, best of three (process time: other load on the machine skews it less)."""
    best = float("inf")
    for _ in range(3):
        count = 0
        started = time.process_time()
        deadline = started + seconds / 3
        while True:
            for _ in range(100):
                fn()
            count += 100
            now = time.process_time()
            if now >= deadline:
                break
        best = min(best, (now - started) / count * 1e6)
    return best


def _chunked_body(verified: VerifiedRequest, payload: bytes, size: int) -> bytes:
    prev = verified.signature
    out = bytearray()
    for i in range(0, len(payload) + 1, size):
        data = payload[i : i + size]
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                verified.amz_date_text,
                verified.scope.scope,
                prev,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            )
        )
        prev = hmac.new(verified.signing_key, text.encode(), hashlib.sha256).hexdigest()
        out += b"%x;chunk-signature=%s\r\n" % (len(data), prev.encode()) + data + (b"\r\n" if data else b"")
    return bytes(out + b"\r\n")


async def _drain(blob: bytes, verified: VerifiedRequest) -> int:
    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(blob), 65536):
            yield blob[i : i + 65536]

    total = 0
    async for piece in decode_aws_chunked(
        stream(), mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD", verified=verified
    ):
        total += len(piece)
    return total


def main() -> None:
    creds = Credentials(AKID, SECRET)
    sts = _signed(
        SigV4Auth(creds, "sts", "us-east-1"),
        "POST",
        "http://127.0.0.1:4566/",
        b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    eks = _signed(
        SigV4Auth(creds, "eks", "us-west-2"),
        "GET",
        "http://127.0.0.1:4566/clusters/demo/pod-identity-associations",
    )
    s3_put = _signed(
        S3SigV4Auth(creds, "s3", "us-west-2"), "PUT", "http://127.0.0.1:4566/bucket/key.txt", b"x" * 1024
    )
    presigner = S3SigV4QueryAuth(creds, "s3", "us-west-2", expires=3600)
    s3_get = _signed(presigner, "GET", "http://127.0.0.1:4566/bucket/key.txt")
    body_hash = _time(lambda: hashlib.sha256(s3_put.body).hexdigest())

    rows: list[tuple[str, float]] = [
        ("verify STS POST (header auth)", _time(lambda: verify_request(sts, _lookup, NOW, service="sts"))),
        ("verify EKS GET (header auth)", _time(lambda: verify_request(eks, _lookup, NOW, service="eks"))),
        ("verify S3 PUT 1 KiB (payload hash)", _time(lambda: verify_request(s3_put, _lookup, NOW, s3=True))),
        ("  of which SHA-256 of the 1 KiB body", body_hash),
        ("verify S3 presigned GET", _time(lambda: verify_request(s3_get, _lookup, NOW, s3=True))),
    ]

    def botocore_sign() -> None:
        request = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=sts.body)
        SigV4Auth(creds, "sts", "us-east-1").add_auth(request)

    rows.append(("botocore SigV4Auth.add_auth (client side, scale)", _time(botocore_sign)))

    print(f"{'operation':<52} {'µs/op':>10}")
    print("-" * 63)
    for name, micros in rows:
        print(f"{name:<52} {micros:>10.1f}")

    verified = verify_request(s3_put, _lookup, NOW, s3=True)
    payload = b"y" * (1 << 20)
    blob = _chunked_body(verified, payload, 65536)
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        assert asyncio.run(_drain(blob, verified)) == len(payload)
    elapsed = time.perf_counter() - started
    print(f"{'aws-chunked decode, 64 KiB signed chunks':<52} {rounds / elapsed:>8.1f} MiB/s")


if __name__ == "__main__":
    main()
