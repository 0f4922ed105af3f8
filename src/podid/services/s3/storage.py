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
DEPTH = 2  # blocks queued per lane: one upload holds at most 2 x (DEPTH + 1) blocks in memory


class _Lane:
    """One worker fed blocks in order through a bounded queue, run in the default executor.

    Each lane processes its blocks one after the other (so hashes see them in order), independently
    of the other lanes: a slow block in one lane does not hold the others back, only a full queue
    holds back the producer (backpressure, memory bounded). After a failure the lane skips the
    remaining blocks and `close` raises it.
    """

    def __init__(self, work: Callable[[bytes], None]) -> None:
        self._work = work
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(DEPTH)
        self.error: BaseException | None = None
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while (block := await self._queue.get()) is not None:
            if self.error is None:
                try:
                    await loop.run_in_executor(None, self._work, block)
                except Exception as exc:  # kept for the producer; the lane keeps draining
                    self.error = exc

    async def put(self, block: bytes) -> None:
        if self.error is not None:
            raise self.error
        await self._queue.put(block)

    async def close(self) -> None:
        """Wait until every queued block is processed; raise the lane's failure, if any."""
        await self._queue.put(None)
        await self._task
        if self.error is not None:
            raise self.error

    async def abandon(self) -> None:
        """Stop after the block in flight, ignoring failures (the upload is void anyway)."""
        if self.error is None:
            self.error = ConnectionAbortedError()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        await asyncio.shield(self._task)


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
        try:
            with open(path, "wb") as handle:  # noqa: ASYNC230 - written from a worker lane
                pieces = _one(bytes(body)) if isinstance(body, bytes | bytearray) else body

                def store(block: bytes) -> None:
                    handle.write(block)
                    for h in others:
                        h.update(block)

                # MD5 (the ETag's, the slowest hash) in one lane; the write and every other hash in
                # the other. Hashes and file writes release the GIL, so both lanes and the event loop
                # (receiving the next block) run at once.
                lanes = [_Lane(md5.update), _Lane(store)]
                try:
                    gathered: list[bytes] = []
                    pending = 0
                    async for piece in pieces:
                        size += len(piece)
                        if limit is not None and size > limit:
                            raise OverflowError(size)
                        gathered.append(piece)
                        pending += len(piece)
                        if pending >= BLOCK:
                            block = gathered[0] if len(gathered) == 1 else b"".join(gathered)
                            gathered, pending = [], 0
                            for lane in lanes:
                                await lane.put(block)
                    if gathered:
                        block = b"".join(gathered)
                        for lane in lanes:
                            await lane.put(block)
                    for lane in lanes:
                        await lane.close()
                except BaseException:
                    for lane in lanes:
                        await lane.abandon()
                    raise
                handle.flush()
                # Durable before the metadata that points at it is committed.
                await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
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

    def file_range(self) -> tuple[BinaryIO, int, int]:
        """The open file, the offset and the number of bytes still to send, for a transport that
        sends a file itself (sendfile(2)) instead of iterating; the caller then calls `close`."""
        handle = self._handle
        offset = handle.tell()
        left = os.fstat(handle.fileno()).st_size - offset
        return handle, offset, left if self._remaining is None else min(left, self._remaining)

    def close(self) -> None:
        self._finalizer()

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
