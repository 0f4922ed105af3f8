"""aws-chunked decoding: AWS's published streaming example, botocore's own chunk encoder, tampering."""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtS3SigV4Auth
from botocore.httpchecksum import (
    AwsChunkedWrapper,
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)

from podid.errors import AwsError
from podid.wire.chunked import ChunkedBody, decode_aws_chunked, verify_sha256_stream
from podid.wire.http import Headers, HttpRequest
from podid.wire.sigv4 import (
    EMPTY_SHA256,
    CredentialScope,
    SigningCredential,
    VerifiedRequest,
    signing_key,
    verify_request,
)

# AWS's example "Signature Calculations for the Authorization Header: Transferring Payload in
# Multiple Chunks" (S3 API reference): 66560 bytes of "a" as 65536 + 1024 + 0.
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGS = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]
# The CRT's test vector for the trailer signature that follows the example's final chunk.
TRAILER_SIG = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"
EXAMPLE_TIME = datetime(2013, 5, 24, tzinfo=UTC)


def example_request(body: bytes = b"") -> HttpRequest:
    headers = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
            f"x-amz-storage-class,Signature={SEED}",
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
    ]
    return HttpRequest(
        method="PUT",
        path="/examplebucket/chunkObject.txt",
        headers=Headers(headers),
        body=body,
        stream=pieces([body], 1),
    )


def example_verified() -> VerifiedRequest:
    def lookup(akid: str, token: str | None) -> SigningCredential:
        return SigningCredential(akid, SECRET)

    return verify_request(example_request(), lookup, EXAMPLE_TIME, service="s3", s3=True)


def example_body(signatures: list[str] = CHUNK_SIGS, *, tail: bytes = b"\r\n", tamper: bool = False) -> bytes:
    out = io.BytesIO()
    for size, sig in zip((65536, 1024, 0), signatures, strict=True):
        data = bytearray(b"a" * size)
        if tamper and size == 1024:
            data[10] = ord("b")
        out.write(b"%x;chunk-signature=%s\r\n" % (size, sig.encode()))
        out.write(bytes(data))
        if size:
            out.write(b"\r\n")
    out.write(tail)
    return out.getvalue()


async def pieces(blobs: list[bytes], size: int) -> AsyncIterator[bytes]:
    """Feed bodies in pieces of `size` bytes, as a socket would."""
    for blob in blobs:
        for i in range(0, len(blob), size):
            yield blob[i : i + size]


async def collect(body: ChunkedBody) -> bytes:
    return b"".join([piece async for piece in body])


def test_seed_signature_of_the_aws_example_verifies() -> None:
    verified = example_verified()
    assert verified.signature == SEED
    assert verified.payload_hash == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


@pytest.mark.parametrize("piece", [1, 7, 4096, 70000])
async def test_aws_example_decodes(piece: int) -> None:
    body = decode_aws_chunked(
        pieces([example_body()], piece),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        verified=example_verified(),
        decoded_length=66560,
    )
    assert await collect(body) == b"a" * 66560
    assert body.decoded_length == 66560


async def test_tampered_chunk_signature_data_and_truncation() -> None:
    verified = example_verified()
    bad_sig = [CHUNK_SIGS[0], CHUNK_SIGS[1].replace("0", "1", 1), CHUNK_SIGS[2]]
    cases = {
        "SignatureDoesNotMatch": [example_body(bad_sig), example_body(tamper=True)],
        "IncompleteBody": [example_body()[:-100], example_body()[:66000]],
    }
    for code, bodies in cases.items():
        for blob in bodies:
            body = decode_aws_chunked(
                pieces([blob], 4096),
                mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                verified=verified,
                decoded_length=66560,
            )
            with pytest.raises(AwsError) as info:
                await collect(body)
            assert info.value.code == code


async def test_tampered_chunk_is_never_yielded() -> None:
    body = decode_aws_chunked(
        pieces([example_body(tamper=True)], 65536),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        verified=example_verified(),
    )
    got: list[bytes] = []

    async def drain() -> None:
        async for piece in body:
            got.append(piece)

    with pytest.raises(AwsError):
        await drain()
    assert b"".join(got) == b"a" * 65536  # only the first (valid) chunk


async def test_decoded_length_must_match() -> None:
    body = decode_aws_chunked(
        pieces([example_body()], 4096),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        verified=example_verified(),
        decoded_length=66561,
    )
    with pytest.raises(AwsError) as info:
        await collect(body)
    assert info.value.code == "IncompleteBody"


async def test_signed_trailer_matches_the_crt_vector() -> None:
    tail = (
        b"first:1st\r\nsecond:2nd\r\nthird:3rd\r\nx-amz-trailer-signature:"
        + TRAILER_SIG.encode()
        + b"\r\n\r\n"
    )
    body = decode_aws_chunked(
        pieces([example_body(tail=tail)], 1000),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        verified=example_verified(),
        trailer_names=["first", "second", "third"],
    )
    assert await collect(body) == b"a" * 66560
    assert body.trailers == {"first": "1st", "second": "2nd", "third": "3rd"}
    wrong = tail.replace(b"3rd", b"4th")
    body = decode_aws_chunked(
        pieces([example_body(tail=wrong)], 1000),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        verified=example_verified(),
    )
    with pytest.raises(AwsError) as info:
        await collect(body)
    assert info.value.code == "SignatureDoesNotMatch"


# ------------------------------------------------------------------ signed bodies of our own making


def _sign_chunks(verified: VerifiedRequest, chunks: list[bytes], trailer: bytes | None) -> bytes:
    """An independent chunk signer (the string to sign from the S3 documentation)."""
    prev = verified.signature
    out = bytearray()
    for data in [*chunks, b""]:
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
    if trailer is None:
        return bytes(out + b"\r\n")
    canonical = b"".join(line + b"\n" for line in trailer.split(b"\r\n") if line)
    text = "\n".join(
        (
            "AWS4-HMAC-SHA256-TRAILER",
            verified.amz_date_text,
            verified.scope.scope,
            prev,
            hashlib.sha256(canonical).hexdigest(),
        )
    )
    sig = hmac.new(verified.signing_key, text.encode(), hashlib.sha256).hexdigest()
    return bytes(out + trailer + b"x-amz-trailer-signature:" + sig.encode() + b"\r\n\r\n")


def _verified(signature: str = "0" * 64) -> VerifiedRequest:
    scope = CredentialScope(AKID, "20261128", "us-west-2", "s3", "aws4_request")
    return VerifiedRequest(
        scope=scope,
        credential=SigningCredential(AKID, SECRET),
        signed_headers=("host",),
        signature=signature,
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        signing_key=signing_key(SECRET, "20261128", "us-west-2", "s3"),
        presigned=False,
        amz_date=datetime(2026, 11, 28, tzinfo=UTC),
        amz_date_text="20261128T000000Z",
    )


async def test_signed_trailer_with_checksum() -> None:
    data = [bytes(range(256)) * 40, b"tail"]
    crc = Crc32Checksum()
    crc.update(b"".join(data))
    trailer = b"x-amz-checksum-crc32:" + crc.b64digest().encode() + b"\r\n"
    blob = _sign_chunks(_verified(), data, trailer)
    body = decode_aws_chunked(
        pieces([blob], 333),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        verified=_verified(),
        trailer_names=["x-amz-checksum-crc32"],
        decoded_length=10244,
        checksum_algorithm="CRC32",
    )
    assert await collect(body) == b"".join(data)
    assert body.checksum == crc.b64digest()


async def test_small_chunk_before_the_last_is_refused() -> None:
    blob = _sign_chunks(_verified(), [b"x" * 100, b"y" * 9000], None)
    body = decode_aws_chunked(
        pieces([blob], 4096), mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD", verified=_verified()
    )
    with pytest.raises(AwsError) as info:
        await collect(body)
    assert info.value.code == "InvalidChunkSizeError"


async def test_missing_chunk_signature_and_missing_trailer_signature() -> None:
    body = decode_aws_chunked(
        pieces([b"3\r\nabc\r\n0\r\n\r\n"], 10),
        mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        verified=_verified(),
    )
    with pytest.raises(AwsError) as info:
        await collect(body)
    assert info.value.code == "SignatureDoesNotMatch"
    blob = _sign_chunks(_verified(), [b"abc"], b"x-amz-checksum-crc32:NSRBwg==\r\n")
    blob = blob[: blob.index(b"x-amz-trailer-signature")] + b"\r\n"
    body = decode_aws_chunked(
        pieces([blob], 10), mode="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", verified=_verified()
    )
    with pytest.raises(AwsError) as info:
        await collect(body)
    assert info.value.code == "SignatureDoesNotMatch"


# ------------------------------------------------------------------ unsigned trailers, botocore's encoder


@pytest.mark.parametrize(
    ("algorithm", "cls"),
    [
        ("CRC32", Crc32Checksum),
        ("CRC32C", CrtCrc32cChecksum),
        ("CRC64NVME", CrtCrc64NvmeChecksum),
        ("SHA1", Sha1Checksum),
        ("SHA256", Sha256Checksum),
    ],
)
async def test_unsigned_trailer_from_botocore(algorithm: str, cls: type) -> None:
    payload = bytes(range(256)) * 300 + b"end"
    name = f"x-amz-checksum-{algorithm.lower()}"
    encoded = AwsChunkedWrapper(
        io.BytesIO(payload), checksum_cls=cls, checksum_name=name, chunk_size=10000
    ).read()
    body = decode_aws_chunked(
        pieces([encoded], 777),
        mode="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        verified=None,
        trailer_names=[name],
        decoded_length=len(payload),
        checksum_algorithm=algorithm,
    )
    assert await collect(body) == payload
    expected = cls()
    expected.update(payload)
    assert body.trailers[name] == expected.b64digest() == body.checksum


async def test_wrong_trailer_checksum_is_bad_digest() -> None:
    payload = b"hello world" * 1000
    encoded = AwsChunkedWrapper(
        io.BytesIO(payload), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32"
    ).read()
    good = Crc32Checksum()
    good.update(payload)
    encoded = encoded.replace(good.b64digest().encode(), b"AAAAAA==")
    body = decode_aws_chunked(
        pieces([encoded], 4096),
        mode="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        verified=None,
        trailer_names=["x-amz-checksum-crc32"],
        checksum_algorithm="crc32",
    )
    with pytest.raises(AwsError) as info:
        await collect(body)
    assert info.value.code == "BadDigest"


async def test_declared_trailer_missing_or_undeclared() -> None:
    for blob, names in [
        (b"3\r\nabc\r\n0\r\n\r\n", ["x-amz-checksum-crc32"]),
        (b"0\r\nx-other:1\r\n\r\n", ["a"]),
    ]:
        body = decode_aws_chunked(
            pieces([blob], 5), mode="STREAMING-UNSIGNED-PAYLOAD-TRAILER", verified=None, trailer_names=names
        )
        with pytest.raises(AwsError) as info:
            await collect(body)
        assert info.value.code == "MalformedTrailerError"


async def test_unsigned_chunks_stream_before_the_body_ends() -> None:
    payload = b"z" * (1 << 20)
    encoded = AwsChunkedWrapper(io.BytesIO(payload), chunk_size=1 << 20).read()
    fed = 0

    async def counting() -> AsyncIterator[bytes]:
        nonlocal fed
        async for piece in pieces([encoded], 1024):
            fed += len(piece)
            yield piece

    body = decode_aws_chunked(counting(), mode="STREAMING-UNSIGNED-PAYLOAD-TRAILER", verified=None)
    first = await body.__anext__()
    assert len(first) <= 1024
    assert fed < len(encoded) // 2


async def test_malformed_framing_and_unknown_mode() -> None:
    for blob in (b"zz\r\n", b"3\r\nabcXY0\r\n\r\n", b"1" * 5000):
        body = decode_aws_chunked(
            pieces([blob], 64), mode="STREAMING-UNSIGNED-PAYLOAD-TRAILER", verified=None
        )
        with pytest.raises(AwsError) as info:
            await collect(body)
        assert info.value.status == 400
    with pytest.raises(AwsError):
        decode_aws_chunked(pieces([b""], 1), mode="UNSIGNED-PAYLOAD", verified=None)


async def test_verify_sha256_stream() -> None:
    data = b"streamed body" * 100
    good = hashlib.sha256(data).hexdigest()
    assert b"".join([p async for p in verify_sha256_stream(pieces([data], 99), good)]) == data
    with pytest.raises(AwsError) as info:
        _ = [p async for p in verify_sha256_stream(pieces([data], 99), "0" * 64)]
    assert info.value.code == "XAmzContentSHA256Mismatch"


@pytest.mark.parametrize("signer_cls", [S3SigV4Auth, CrtS3SigV4Auth])
async def test_botocore_https_trailer_upload_end_to_end(signer_cls: type) -> None:
    """What botocore sends over https with default checksums: an unsigned-trailer aws-chunked PUT."""
    payload = b"object data " * 5000
    encoded = AwsChunkedWrapper(
        io.BytesIO(payload), checksum_cls=CrtCrc32cChecksum, checksum_name="x-amz-checksum-crc32c"
    ).read()
    request = AWSRequest(
        method="PUT",
        url="https://127.0.0.1:4566/bucket/key",
        data=encoded,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Trailer": "x-amz-checksum-crc32c",
            "X-Amz-Decoded-Content-Length": str(len(payload)),
            "Content-Length": str(len(encoded)),
        },
    )
    request.context["checksum"] = {
        "request_algorithm": {"in": "trailer", "algorithm": "crc32c", "name": "x-amz-checksum-crc32c"}
    }
    signer_cls(Credentials(AKID, SECRET), "s3", "us-west-2").add_auth(request)
    pairs = [(k, str(v)) for k, v in request.headers.items()]
    if not any(k.lower() == "host" for k, _ in pairs):  # the CRT signer adds it, botocore's does not
        pairs.append(("Host", "127.0.0.1:4566"))
    headers = Headers(pairs)
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    wire = HttpRequest(method="PUT", path="/bucket/key", headers=headers, stream=pieces([encoded], 1500))

    def lookup(akid: str, token: str | None, /) -> SigningCredential:
        return SigningCredential(akid, SECRET)

    verified = verify_request(wire, lookup, datetime.now(UTC), service="s3", s3=True)
    assert wire.stream is not None
    body = decode_aws_chunked(
        wire.stream,
        mode=verified.payload_hash,
        verified=verified,
        trailer_names=headers["x-amz-trailer"].split(","),
        decoded_length=int(headers["x-amz-decoded-content-length"]),
        checksum_algorithm="CRC32C",
    )
    assert await collect(body) == payload
    assert body.checksum == body.trailers["x-amz-checksum-crc32c"]
