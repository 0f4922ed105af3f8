"""S3 object checksums (`x-amz-checksum-*`) and `Content-MD5`, computed incrementally.

S3 encodes every checksum as base64 of its digest; for the CRCs the digest is the big-endian
integer (4 bytes for CRC32/CRC32C, 8 for CRC64NVME), exactly as botocore's `httpchecksum` does.
CRC32C and CRC64NVME come from `awscrt.checksums` (the AWS CRT, native code).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Protocol

from awscrt import checksums as crt_checksums

from podid.errors import AwsError

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


class Checksum(Protocol):
    """An incremental checksum: feed it with `update`, read it with `digest`/`b64digest`."""

    algorithm: str

    def update(self, data: bytes | bytearray | memoryview) -> None: ...

    def digest(self) -> bytes: ...

    def b64digest(self) -> str: ...


class _Crc:
    __slots__ = ("_fn", "_mask", "_size", "_value", "algorithm")

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._value = 0
        if algorithm == "CRC32":
            self._fn, self._size, self._mask = binascii.crc32, 4, 0xFFFFFFFF
        elif algorithm == "CRC32C":
            self._fn, self._size, self._mask = crt_checksums.crc32c, 4, 0xFFFFFFFF
        else:
            self._fn, self._size, self._mask = crt_checksums.crc64nvme, 8, 0xFFFFFFFFFFFFFFFF

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._value = (
            self._fn(bytes(data) if isinstance(data, memoryview) else data, self._value) & self._mask
        )

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _Hash:
    __slots__ = ("_h", "algorithm")

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._h = hashlib.sha1(usedforsecurity=False) if algorithm == "SHA1" else hashlib.sha256()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()

    def b64digest(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")


def normalize_algorithm(name: str) -> str | None:
    """`crc32`, `x-amz-checksum-crc32` or `CRC32` -> `CRC32`; None if not an S3 checksum algorithm."""
    upper = name.strip().upper()
    if upper.startswith("X-AMZ-CHECKSUM-"):
        upper = upper[len("X-AMZ-CHECKSUM-") :]
    return upper if upper in ALGORITHMS else None


def new_checksum(algorithm: str) -> Checksum:
    """A fresh checksum for `algorithm` (any spelling `normalize_algorithm` accepts).

    Raises `AwsError` `InvalidRequest` 400 for an algorithm S3 does not support.
    """
    norm = normalize_algorithm(algorithm)
    if norm is None:
        raise AwsError(
            "Value for x-amz-checksum-algorithm header is invalid.",
            code="InvalidRequest",
            status=400,
        )
    if norm in ("SHA1", "SHA256"):
        return _Hash(norm)
    return _Crc(norm)


def header_name(algorithm: str) -> str:
    """The header (or trailer) carrying a checksum: `CRC32` -> `x-amz-checksum-crc32`."""
    norm = normalize_algorithm(algorithm)
    if norm is None:
        raise ValueError(f"not a checksum algorithm: {algorithm!r}")
    return "x-amz-checksum-" + norm.lower()


def checksum_of(algorithm: str, data: bytes) -> str:
    """The base64 checksum of a whole body."""
    c = new_checksum(algorithm)
    c.update(data)
    return c.b64digest()


def valid_encoding(algorithm: str, value: str) -> bool:
    """Whether `value` is a well-formed base64 digest of the right length for `algorithm`."""
    size = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}.get(
        normalize_algorithm(algorithm) or ""
    )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return size is not None and len(raw) == size


def bad_digest(algorithm: str) -> AwsError:
    """S3's refusal when a body does not match its `x-amz-checksum-*` value."""
    norm = normalize_algorithm(algorithm) or algorithm.upper()
    return AwsError(
        f"The {norm} you specified did not match the calculated checksum.",
        code="BadDigest",
        status=400,
    )


def invalid_checksum_value(algorithm: str) -> AwsError:
    """S3's refusal for an `x-amz-checksum-*` value that is not a valid base64 digest."""
    norm = (normalize_algorithm(algorithm) or algorithm).lower()
    return AwsError(
        f"Value for x-amz-checksum-{norm} header is invalid.",
        code="InvalidRequest",
        status=400,
    )


# ---------------------------------------------------------------------------- Content-MD5


def content_md5(data: bytes) -> str:
    """The `Content-MD5` value of a body: base64 of the 16-byte MD5 digest."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


class Md5:
    """Incremental `Content-MD5` (also yields the hex ETag of a single-part object)."""

    __slots__ = ("_h",)

    def __init__(self) -> None:
        self._h = hashlib.md5(usedforsecurity=False)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(data)

    def b64digest(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def parse_content_md5(value: str) -> bytes:
    """The 16 digest bytes of a `Content-MD5` header, or S3's `InvalidDigest` 400."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise AwsError("The Content-MD5 you specified was invalid.", code="InvalidDigest", status=400)
    return raw


def check_content_md5(value: str, computed_b64: str) -> None:
    """Raise S3's `BadDigest` 400 when the body's MD5 differs from the `Content-MD5` header."""
    expected = parse_content_md5(value)
    if base64.b64decode(computed_b64) != expected:
        raise AwsError(
            "The Content-MD5 you specified did not match what we received.",
            code="BadDigest",
            status=400,
        )
