"""Object bytes on disk: written once to a temporary file, checked, then renamed into place.

Layout under the data directory:

    blobs/<2 hex>/<32 hex>   one immutable file per object version or multipart part
    tmp/                     bodies being received; anything left here after a crash is garbage

A blob is never rewritten: a new PutObject writes a new blob and the metadata (in the store) is
switched to it in one commit, so a crash leaves either the old or the new object, never a mix.
`write` hashes while it writes (MD5 for the ETag, SHA-256 for `x-amz-content-sha256`, any S3
checksum); the caller decides whether the digests are acceptable before calling `commit`, and
`discard` otherwise. Reads are async iterators over fixed-size chunks, so no body is ever held whole
in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from podid.wire.checksums import Checksum, Md5, new_checksum

READ_CHUNK = 1024 * 1024
BLOCK = 1024 * 1024  # uploads are hashed and written in blocks of this size


class _Lanes:
    """Two worker-thread lanes fed block by block: MD5 in one, the write and every other hash in the
    other. The hashes release the GIL, so both lanes and the event loop (receiving the next block)
    run at once; MD5, which the ETag needs, is the slowest and gets a core to itself. Each lane
    keeps at most one block in flight, so blocks are processed in order and memory stays bounded.
    """

    def __init__(self) -> None:
        self._pending: list[asyncio.Future[None]] = []

    async def submit(
        self, first: Callable[[bytes], None], second: Callable[[bytes], None], block: bytes
    ) -> None:
        await self.drain()
        loop = asyncio.get_running_loop()
        self._pending = [loop.run_in_executor(None, first, block), loop.run_in_executor(None, second, block)]

    async def drain(self) -> None:
        """Wait for the blocks in flight; raise the first lane's failure, if any."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.wait(pending)
            for future in pending:
                future.result()

    async def settle(self) -> None:
        """Wait for the blocks in flight, ignoring their failures (the upload is void anyway)."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.wait(pending)
            for future in pending:
                if not future.cancelled():
                    future.exception()  # retrieved, so asyncio does not log it


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


@dataclass
class Staged:
    """A body written to a temporary file, with its digests, not yet visible as a blob."""

    path: Path
    size: int
    md5_hex: str
    md5_b64: str
    sha256_hex: str | None
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64 value


class BlobStore:
    """Immutable files named by blob id under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.blobs = root / "blobs"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():  # bodies of requests interrupted by a crash
            leftover.unlink(missing_ok=True)

    def path_of(self, blob: str) -> Path:
        return self.blobs / blob[:2] / blob

    async def write(
        self,
        body: AsyncIterator[bytes] | bytes,
        *,
        algorithms: Iterable[str] = (),
        sha256: bool = False,
        limit: int | None = None,
        on_chunk: list[Checksum] | None = None,
    ) -> Staged:
        """Write `body` to a temporary file, computing its digests; delete the file if anything fails.

        `limit` bounds the size (the caller turns `OverflowError` into S3's EntityTooLarge).
        """
        path = self.tmp / uuid.uuid4().hex
        md5 = Md5()
        sha = hashlib.sha256() if sha256 else None
        sums = {alg: new_checksum(alg) for alg in algorithms}
        others: list[_Hasher] = [*sums.values(), *(on_chunk or ())]
        if sha is not None:
            others.append(sha)
        size = 0
        lanes = _Lanes()
        try:
            with open(path, "wb") as handle:  # noqa: ASYNC230 - written from the worker lanes
                pieces = _one(bytes(body)) if isinstance(body, bytes | bytearray) else body

                def store(block: bytes) -> None:
                    handle.write(block)
                    for h in others:
                        h.update(block)

                buffer = bytearray()
                async for piece in pieces:
                    size += len(piece)
                    if limit is not None and size > limit:
                        raise OverflowError(size)
                    buffer += piece
                    if len(buffer) >= BLOCK:
                        block, buffer = bytes(buffer), bytearray()
                        await lanes.submit(md5.update, store, block)
                if buffer:
                    await lanes.submit(md5.update, store, bytes(buffer))
                await lanes.drain()
                handle.flush()
                # Durable before the metadata that points at it is committed.
                await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            await lanes.settle()
            path.unlink(missing_ok=True)
            raise
        return Staged(
            path=path,
            size=size,
            md5_hex=md5.hexdigest(),
            md5_b64=md5.b64digest(),
            sha256_hex=sha.hexdigest() if sha is not None else None,
            checksums={alg: c.b64digest() for alg, c in sums.items()},
        )

    def commit(self, staged: Staged) -> str:
        """Move a staged body into place (atomic rename); returns its new blob id."""
        blob = uuid.uuid4().hex
        target = self.path_of(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(staged.path, target)
        return blob

    @staticmethod
    def discard(staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def delete(self, blob: str | None) -> None:
        if blob:
            self.path_of(blob).unlink(missing_ok=True)

    def size(self, blob: str) -> int:
        return self.path_of(blob).stat().st_size

    def read(self, blob: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of `blob` from `start`, `length` of them (to the end if None), in chunks.

        The file is opened now, so a download already answered keeps reading the bytes it started
        with even if the object is replaced or deleted meanwhile (POSIX keeps an open inode); the
        handle is closed at the end, or when the reader is dropped unfinished.
        """
        return BlobReader(open(self.path_of(blob), "rb"), start, length)

    async def concat(self, blobs: Iterable[str], checksums: list[Checksum]) -> Staged:
        """Concatenate blobs into a new staged file (multipart completion), hashing as it goes."""

        async def pieces() -> AsyncIterator[bytes]:
            for blob in blobs:
                async for chunk in self.read(blob):
                    yield chunk

        return await self.write(pieces(), on_chunk=checksums)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class BlobReader:
    """An async iterator over part of an open file, in `READ_CHUNK` pieces; closes the file when done."""

    def __init__(self, handle: BinaryIO, start: int, length: int | None) -> None:
        self._handle = handle
        self._remaining = length
        handle.seek(start)
        # Closes the file if the reader is dropped before the end (a client that went away).
        self._finalizer = weakref.finalize(self, handle.close)

    def __aiter__(self) -> BlobReader:
        return self

    async def __anext__(self) -> bytes:
        if self._remaining is not None and self._remaining <= 0:
            self._finalizer()
            raise StopAsyncIteration
        want = READ_CHUNK if self._remaining is None else min(READ_CHUNK, self._remaining)
        data = self._handle.read(want) if not self._handle.closed else b""
        if not data:
            self._finalizer()
            raise StopAsyncIteration
        if self._remaining is not None:
            self._remaining -= len(data)
        return data
