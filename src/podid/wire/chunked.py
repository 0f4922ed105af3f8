"""Streaming `aws-chunked` request bodies (S3 uploads), decoded and verified as they arrive.

The three framings S3 receives (the value of `x-amz-content-sha256`):

- `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n` … ending
  with a zero-size chunk; each signature chains from the previous one (the seed is the request's
  own signature) over `AWS4-HMAC-SHA256-PAYLOAD\\n<date>\\n<scope>\\n<prev>\\n<sha256('')>\\n<sha256(data)>`.
- `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `<hex size>\\r\\n<data>\\r\\n` …, `0\\r\\n`, then trailer lines
  (`x-amz-checksum-crc32:<b64>\\r\\n`) and an empty line.
- `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, then the trailers and
  `x-amz-trailer-signature:<sig>` over `AWS4-HMAC-SHA256-TRAILER\\n<date>\\n<scope>\\n<prev>\\n
  <sha256 of the trailer lines, each "name:value\\n">`.

A signed chunk is yielded only once its signature has been checked (memory is bounded by the chunk
size); unsigned chunks are yielded as their bytes arrive. Errors are S3's (`SignatureDoesNotMatch`
403, `IncompleteBody` 400, `InvalidChunkSizeError` 400, `MalformedTrailerError` 400, `BadDigest`
400, `XAmzContentSHA256Mismatch` 400); the consumer must treat the body as void when iteration
raises (write to a temporary file, rename only after the iterator is exhausted).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence

from podid.errors import AwsError
from podid.wire.checksums import Checksum, bad_digest, header_name, new_checksum, valid_encoding
from podid.wire.sigv4 import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    VerifiedRequest,
)

MIN_CHUNK = 8192  # S3: every signed chunk but the last carries at least 8 KiB
MAX_LINE = 4096  # a chunk header or trailer line longer than this is not aws-chunked
MAX_SIGNED_CHUNK = 64 * 1024 * 1024  # bounds what one signed chunk may make us hold in memory
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _signature_mismatch() -> AwsError:
    return AwsError(
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        code="SignatureDoesNotMatch",
        status=403,
    )


def _incomplete() -> AwsError:
    return AwsError("The request body terminated unexpectedly", code="IncompleteBody", status=400)


def _malformed(detail: str) -> AwsError:
    return AwsError(f"Malformed aws-chunked body: {detail}", code="InvalidRequest", status=400)


def _malformed_trailer() -> AwsError:
    return AwsError(
        "The request contained trailing data that was not well-formed or did not conform to our "
        "published schema.",
        code="MalformedTrailerError",
        status=400,
    )


class ChunkedBody:
    """An async iterator over the decoded bytes of an aws-chunked body.

    After exhaustion `trailers` holds the trailer values (lower-case names), `decoded_length` the
    number of bytes yielded and, if a `checksum_algorithm` was given, `checksum` its base64 value —
    already compared with the matching `x-amz-checksum-*` trailer when the body carried one.
    """

    def __init__(
        self,
        stream: AsyncIterator[bytes],
        *,
        mode: str,
        verified: VerifiedRequest | None,
        trailer_names: Sequence[str] = (),
        decoded_length: int | None = None,
        checksum_algorithm: str | None = None,
    ) -> None:
        if mode not in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
            raise AwsError(
                f"Unsupported x-amz-content-sha256 value for an aws-chunked body: {mode}",
                code="InvalidArgument",
                status=400,
            )
        self.signed = mode != STREAMING_UNSIGNED_TRAILER
        if self.signed and verified is None:
            raise ValueError("signed aws-chunked bodies need the VerifiedRequest that seeds them")
        self.mode = mode
        self.with_trailer = mode != STREAMING_SIGNED
        self.trailer_names = tuple(n.strip().lower() for n in trailer_names if n.strip())
        self.expected_length = decoded_length
        self.trailers: dict[str, str] = {}
        self.decoded_length = 0
        self.checksum: str | None = None
        self._checksum: Checksum | None = new_checksum(checksum_algorithm) if checksum_algorithm else None
        self._checksum_algorithm = checksum_algorithm
        self._verified = verified
        self._prev = verified.signature if verified is not None else ""
        self._stream = stream.__aiter__()
        self._buf = bytearray()
        self._eof = False
        self._gen = self._run()

    def __aiter__(self) -> ChunkedBody:
        return self

    async def __anext__(self) -> bytes:
        return await self._gen.__anext__()

    # ------------------------------------------------------------------ reading helpers

    async def _fill(self) -> bool:
        """Append the next piece of the stream to the buffer; False at end of stream."""
        if self._eof:
            return False
        async for piece in self._stream:
            if piece:
                self._buf += piece
                return True
        self._eof = True
        return False

    async def _line(self) -> bytes:
        start = 0
        while True:
            idx = self._buf.find(b"\r\n", start)
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 2]
                return line
            if len(self._buf) > MAX_LINE:
                raise _malformed("chunk header line too long")
            start = max(0, len(self._buf) - 1)
            if not await self._fill():
                raise _incomplete()

    async def _exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            if not await self._fill():
                raise _incomplete()
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    # ------------------------------------------------------------------ signatures

    def _chunk_signature(self, data_hash: str) -> str:
        v = self._verified
        assert v is not None
        text = "\n".join(
            ("AWS4-HMAC-SHA256-PAYLOAD", v.amz_date_text, v.scope.scope, self._prev, EMPTY_SHA256, data_hash)
        )
        return hmac.new(v.signing_key, text.encode(), hashlib.sha256).hexdigest()

    def _trailer_signature(self, canonical: bytes) -> str:
        v = self._verified
        assert v is not None
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                v.amz_date_text,
                v.scope.scope,
                self._prev,
                hashlib.sha256(canonical).hexdigest(),
            )
        )
        return hmac.new(v.signing_key, text.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ the decoder

    def _parse_header(self, line: bytes) -> tuple[int, str | None]:
        size_part, _, ext = line.partition(b";")
        size_part = size_part.strip()
        if not size_part or len(size_part) > 16 or not set(size_part) <= _HEX:
            raise _malformed("invalid chunk size")
        size = int(size_part, 16)
        signature: str | None = None
        if ext:
            name, _, value = ext.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace")
        return size, signature

    def _count(self, data: bytes) -> None:
        self.decoded_length += len(data)
        if self.expected_length is not None and self.decoded_length > self.expected_length:
            raise AwsError(
                "The decoded body is longer than x-amz-decoded-content-length.",
                code="IncompleteBody",
                status=400,
            )
        if self._checksum is not None:
            self._checksum.update(data)

    async def _run(self) -> AsyncIterator[bytes]:
        previous_size: int | None = None
        while True:
            size, signature = self._parse_header(await self._line())
            if self.signed:
                if signature is None:
                    raise _signature_mismatch()
                if size and previous_size is not None and previous_size < MIN_CHUNK:
                    raise AwsError(
                        "Only the last chunk is allowed to have a size less than 8192 bytes",
                        code="InvalidChunkSizeError",
                        status=400,
                        fields={"BadChunkSize": str(previous_size)},
                    )
                if size > MAX_SIGNED_CHUNK:
                    raise _malformed("chunk larger than 64 MiB")
                data = await self._exact(size)
                expected = self._chunk_signature(hashlib.sha256(data).hexdigest() if data else EMPTY_SHA256)
                if not hmac.compare_digest(expected.encode(), signature.encode()):
                    raise _signature_mismatch()
                self._prev = expected
                previous_size = size
                if data:
                    self._count(data)
                    yield data
            else:
                remaining = size
                while remaining:
                    if not self._buf and not await self._fill():
                        raise _incomplete()
                    take = min(remaining, len(self._buf))
                    piece = bytes(self._buf[:take])
                    del self._buf[:take]
                    remaining -= take
                    self._count(piece)
                    yield piece
            if size == 0:
                break
            if await self._exact(2) != b"\r\n":
                raise _malformed("chunk data not followed by CRLF")
        if self.with_trailer:
            await self._read_trailers()
        elif await self._line() != b"":
            raise _malformed("data after the final chunk")
        self._finish()

    async def _read_trailers(self) -> None:
        canonical = bytearray()
        trailer_signature: str | None = None
        while True:
            line = await self._line()
            if not line:
                break
            name, sep, value = line.partition(b":")
            if not sep:
                raise _malformed_trailer()
            key = name.strip().lower().decode("ascii", "replace")
            text = value.strip().decode("ascii", "replace")
            if key == "x-amz-trailer-signature":
                trailer_signature = text
                continue
            if trailer_signature is not None:
                raise _malformed_trailer()
            if self.trailer_names and key not in self.trailer_names:
                raise _malformed_trailer()
            self.trailers[key] = text
            canonical += f"{key}:{text}\n".encode()
        if any(name not in self.trailers for name in self.trailer_names):
            raise _malformed_trailer()
        if self.mode == STREAMING_SIGNED_TRAILER:
            if trailer_signature is None:
                raise _signature_mismatch()
            expected = self._trailer_signature(bytes(canonical))
            if not hmac.compare_digest(expected.encode(), trailer_signature.encode()):
                raise _signature_mismatch()

    def _finish(self) -> None:
        if self.expected_length is not None and self.decoded_length != self.expected_length:
            raise _incomplete()
        if self._checksum is not None and self._checksum_algorithm is not None:
            self.checksum = self._checksum.b64digest()
            name = header_name(self._checksum_algorithm)
            claimed = self.trailers.get(name)
            if claimed is not None:
                if not valid_encoding(self._checksum_algorithm, claimed):
                    raise _malformed_trailer()
                if claimed != self.checksum:
                    raise bad_digest(self._checksum_algorithm)


def decode_aws_chunked(
    stream: AsyncIterator[bytes],
    *,
    mode: str,
    verified: VerifiedRequest | None,
    trailer_names: Sequence[str] = (),
    decoded_length: int | None = None,
    checksum_algorithm: str | None = None,
) -> ChunkedBody:
    """Decode an aws-chunked body; iterate the result with `async for` (see `ChunkedBody`).

    `mode` is the request's `x-amz-content-sha256`; `verified` the `VerifiedRequest` whose signature
    seeds the chunk signatures (None only for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`); `trailer_names`
    the `x-amz-trailer` header's names; `decoded_length` its `x-amz-decoded-content-length`.
    """
    return ChunkedBody(
        stream,
        mode=mode,
        verified=verified,
        trailer_names=trailer_names,
        decoded_length=decoded_length,
        checksum_algorithm=checksum_algorithm,
    )


async def verify_sha256_stream(stream: AsyncIterator[bytes], expected_hex: str) -> AsyncIterator[bytes]:
    """Pass a streamed body through, raising S3's `XAmzContentSHA256Mismatch` at its end if its
    SHA-256 is not `expected_hex` (the request's `x-amz-content-sha256`)."""
    digest = hashlib.sha256()
    async for piece in stream:
        digest.update(piece)
        yield piece
    computed = digest.hexdigest()
    if not hmac.compare_digest(computed, expected_hex):
        raise AwsError(
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            code="XAmzContentSHA256Mismatch",
            status=400,
            fields={"ClientComputedContentSHA256": expected_hex, "S3ComputedContentSHA256": computed},
        )
