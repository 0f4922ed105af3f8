"""BlobStore's upload lanes and sendfile ranges: digests of multi-block bodies, failures mid-body."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podid.errors import AwsError
from podid.services.s3.storage import BLOCK, BlobReader, BlobStore
from podid.wire.checksums import checksum_of

MIB = 1024 * 1024


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_multi_block_digests_match_the_whole_body(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "s3")
    data = os.urandom(7 * BLOCK + 12345)
    # Odd piece sizes: blocks are gathered across pieces, and pieces larger than a block pass whole.
    for size in (100_000, 3 * BLOCK + 7):
        staged = await blobs.write(pieces(data, size), algorithms=["CRC64NVME", "SHA1"], sha256=True)
        assert staged.size == len(data)
        assert staged.md5_hex == hashlib.md5(data).hexdigest()
        assert staged.sha256_hex == hashlib.sha256(data).hexdigest()
        assert staged.checksums["CRC64NVME"] == checksum_of("CRC64NVME", data)
        assert staged.checksums["SHA1"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
        assert staged.path.read_bytes() == data
        blobs.discard(staged)


async def test_failure_after_many_blocks_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "s3")

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"x" * BLOCK
        raise AwsError("broken", code="IncompleteBody", status=400)

    with pytest.raises(AwsError):
        await blobs.write(broken(), algorithms=["CRC32"])
    assert list(blobs.tmp.iterdir()) == []
    with pytest.raises(OverflowError):
        await blobs.write(pieces(b"y" * (5 * BLOCK), BLOCK), limit=3 * BLOCK)
    assert list(blobs.tmp.iterdir()) == []


async def test_a_failing_lane_fails_the_upload(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "s3")

    class Exploding:
        algorithm = "CRC32"
        calls = 0

        def update(self, data: bytes | bytearray | memoryview) -> None:
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("hash failed")

        def digest(self) -> bytes:
            return b""

        def b64digest(self) -> str:
            return ""

    with pytest.raises(RuntimeError, match="hash failed"):
        await blobs.write(pieces(b"z" * (8 * BLOCK), BLOCK), on_chunk=[Exploding()])
    assert list(blobs.tmp.iterdir()) == []


async def test_file_range_of_whole_and_partial_readers(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "s3")
    blob = blobs.commit(await blobs.write(bytes(range(256)) * 40))
    whole = blobs.read(blob)
    assert isinstance(whole, BlobReader)
    handle, offset, count = whole.file_range()
    assert (offset, count) == (0, 10240)
    whole.close()
    assert handle.closed
    part = blobs.read(blob, 1000, 24)
    assert isinstance(part, BlobReader)
    handle, offset, count = part.file_range()
    assert (offset, count) == (1000, 24)
    part.close()
    tail = blobs.read(blob, 10000, 5000)  # a length past the end is cut at the end
    assert isinstance(tail, BlobReader)
    assert tail.file_range()[1:] == (10000, 240)
    tail.close()
    assert MIB == BLOCK  # the block size the tests above reason with
