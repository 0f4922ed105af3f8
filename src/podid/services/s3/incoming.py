"""Request bodies as S3 receives them: decoded, verified while they stream, then accepted or void.

One function, `receive_body`, turns a request's `Body` (bytes, or the streamed `AsyncIterator`) into
a staged file in the blob store, applying every rule S3 applies to an upload:

- `x-amz-content-sha256` a hex digest on a streamed body: the SHA-256 is computed while writing and
  compared at the end (`XAmzContentSHA256Mismatch`); the sigv4 stage could not check it up front;
- `STREAMING-*` values: the aws-chunked framing is decoded (chunk and trailer signatures checked by
  `podid.wire.chunked`), `x-amz-decoded-content-length` enforced;
- `x-amz-checksum-<algorithm>` headers or trailers: recomputed and compared (`BadDigest`); a
  malformed value is `InvalidRequest`; the algorithm is remembered for the object;
- `Content-MD5`: malformed -> `InvalidDigest`, different -> `BadDigest`;
- a body shorter than `Content-Length` -> `IncompleteBody`.

Any failure deletes the staged file: nothing is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from podid.errors import AwsError
from podid.services.base import Call, Params
from podid.services.s3.errors import incomplete_body, invalid_request
from podid.services.s3.storage import BlobStore, Staged
from podid.wire.checksums import (
    ALGORITHMS,
    bad_digest,
    check_content_md5,
    checksum_of,
    content_md5,
    header_name,
    invalid_checksum_value,
    normalize_algorithm,
    parse_content_md5,
    valid_encoding,
)
from podid.wire.chunked import ChunkedBody, decode_aws_chunked
from podid.wire.sigv4 import STREAMING_MODES, STREAMING_UNSIGNED_TRAILER

# S3 computes CRC64NVME for every new object that arrives without a checksum (since Dec 2024).
DEFAULT_ALGORITHM = "CRC64NVME"
MAX_SINGLE_PUT = 5 * 1024**3


@dataclass
class Received:
    staged: Staged
    algorithm: str  # the object's checksum algorithm
    checksum: str  # its base64 value


def _hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def claimed_checksums(call: Call) -> dict[str, str]:
    """The `x-amz-checksum-*` headers of the request, validated (algorithm -> base64 value)."""
    headers = call.request.headers if call.request is not None else {}
    claimed: dict[str, str] = {}
    for alg in ALGORITHMS:
        value = headers.get(header_name(alg))
        if value is not None:
            if not valid_encoding(alg, value):
                raise invalid_checksum_value(alg)
            claimed[alg] = value
    if len(claimed) > 1:
        raise invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    return claimed


async def receive_body(
    call: Call,
    params: Params,
    blobs: BlobStore,
    *,
    algorithm: str | None = None,
    limit: int = MAX_SINGLE_PUT,
    raw: AsyncIterator[bytes] | bytes | None = None,
) -> Received:
    """Stage the request body with every check S3 makes; see the module docstring.

    `algorithm` forces the checksum algorithm (a multipart upload's); otherwise it is the one the
    request names (header, trailer, `x-amz-sdk-checksum-algorithm`), else CRC64NVME.
    """
    request = call.request
    headers = request.headers if request is not None else {}
    if raw is None:
        raw = params.get("Body")
    body: AsyncIterator[bytes] | bytes = b"" if raw is None else raw
    claimed = claimed_checksums(call)
    md5_header = headers.get("content-md5")
    if md5_header is not None:
        parse_content_md5(md5_header)  # InvalidDigest before reading anything

    verified = call.signature
    mode = verified.payload_hash if verified is not None else headers.get("x-amz-content-sha256", "")
    chunked: ChunkedBody | None = None
    trailer_alg: str | None = None
    if mode in STREAMING_MODES:
        trailer_names = [n.strip() for n in headers.get("x-amz-trailer", "").split(",") if n.strip()]
        for name in trailer_names:
            found = normalize_algorithm(name)
            if found is None:
                raise AwsError(
                    "The request contained trailing data that was not well-formed or did not conform to "
                    "our published schema.",
                    code="MalformedTrailerError",
                    status=400,
                )
            trailer_alg = found
        decoded = headers.get("x-amz-decoded-content-length")
        if decoded is None or not decoded.isdigit():
            raise AwsError(
                "You must provide the Content-Length HTTP header.", code="MissingContentLength", status=411
            )
        if verified is None and mode != STREAMING_UNSIGNED_TRAILER:
            raise invalid_request("A signed aws-chunked body needs a signed request.")
        stream = body if not isinstance(body, bytes) else _one(body)
        chunked = decode_aws_chunked(
            stream, mode=mode, verified=verified, trailer_names=trailer_names, decoded_length=int(decoded)
        )
        body = chunked
    # A hex x-amz-content-sha256 on a streamed body: hashed while writing, compared before accepting.
    expected_sha = (
        mode
        if _hex64(mode)
        and verified is not None
        and not verified.payload_checked
        and not isinstance(body, bytes)
        else None
    )

    requested = normalize_algorithm(str(params.get("ChecksumAlgorithm") or ""))
    chosen = algorithm or trailer_alg or next(iter(claimed), None) or requested or DEFAULT_ALGORITHM
    wanted = {chosen, *claimed}
    if trailer_alg is not None:
        wanted.add(trailer_alg)
    try:
        staged = await blobs.write(
            body, algorithms=sorted(wanted), limit=limit, sha256=expected_sha is not None
        )
    except ConnectionError:
        # The client went away mid-body (the transport's ConnectionResetError): S3's IncompleteBody,
        # not an internal error; nothing was stored.
        raise incomplete_body() from None
    except OverflowError:
        raise AwsError(
            "Your proposed upload exceeds the maximum allowed size",
            code="EntityTooLarge",
            status=400,
            fields={"MaxSizeAllowed": str(limit)},
        ) from None
    try:
        if expected_sha is not None and staged.sha256_hex != expected_sha:
            raise AwsError(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                code="XAmzContentSHA256Mismatch",
                status=400,
                fields={
                    "ClientComputedContentSHA256": expected_sha,
                    "S3ComputedContentSHA256": staged.sha256_hex,
                },
            )
        _check(staged, claimed, chunked, trailer_alg, md5_header, params)
    except BaseException:
        blobs.discard(staged)
        raise
    return Received(staged, chosen, staged.checksums[chosen])


def _check(
    staged: Staged,
    claimed: dict[str, str],
    chunked: ChunkedBody | None,
    trailer_alg: str | None,
    md5_header: str | None,
    params: Params,
) -> None:
    length = params.get("ContentLength")
    if chunked is None and isinstance(length, int) and length != staged.size:
        raise incomplete_body()
    for alg, value in claimed.items():
        if staged.checksums[alg] != value:
            raise bad_digest(alg)
    if chunked is not None and trailer_alg is not None:
        trailer = chunked.trailers.get(header_name(trailer_alg))
        if trailer is not None:
            if not valid_encoding(trailer_alg, trailer):
                raise invalid_checksum_value(trailer_alg)
            if staged.checksums[trailer_alg] != trailer:
                raise bad_digest(trailer_alg)
    if md5_header is not None:
        check_content_md5(md5_header, staged.md5_b64)


async def read_small(call: Call, blobs: BlobStore, limit: int = 1024 * 1024) -> bytes:
    """The whole (verified) body of a small request (XML configuration bodies), or S3's error.

    The gateway streams every signed S3 PUT/POST body, so configuration bodies arrive here unread.
    """
    request = call.request
    raw: AsyncIterator[bytes] | bytes = b""
    if request is not None:
        raw = request.stream if request.stream is not None else request.body
    received = await receive_body(call, {}, blobs, limit=limit, raw=raw)
    try:
        return received.staged.path.read_bytes()
    finally:
        blobs.discard(received.staged)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def check_small_body(call: Call, body: bytes) -> None:
    """Content-MD5 and `x-amz-checksum-*` of a buffered configuration body (`?delete`, `?tagging`)."""
    headers = call.request.headers if call.request is not None else {}
    for alg, value in claimed_checksums(call).items():
        if checksum_of(alg, body) != value:
            raise bad_digest(alg)
    md5_header = headers.get("content-md5")
    if md5_header is not None:
        check_content_md5(md5_header, content_md5(body))
