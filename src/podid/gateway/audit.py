"""The audit log: one JSON line per request (time, principal, action, resource, decision, error).

Records are buffered and flushed at least every `flush_interval` seconds and on close, so that the
request path pays for a list append, not a write system call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any


class AuditLog:
    """Appends JSON lines to a file (or keeps them in memory when `path` is None)."""

    def __init__(self, path: Path | None, *, keep: int = 0) -> None:
        self.path = path
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
        self._pending: list[str] = []
        self._encode = json.JSONEncoder(separators=(",", ":"), default=str).encode  # built once
        self._keep = keep
        self.recent: list[dict[str, Any]] = []  # the last `keep` records, for tests and `status`

    def record(self, event: Mapping[str, Any]) -> None:
        data = dict(event)
        if self._keep:
            self.recent.append(data)
            if len(self.recent) > self._keep:
                del self.recent[: len(self.recent) - self._keep]
        if self._file is not None:
            self._pending.append(self._encode(data))
            if len(self._pending) >= 256:
                self.flush()

    def flush(self) -> None:
        if self._file is not None and self._pending:
            self._file.write("\n".join(self._pending) + "\n")
            self._file.flush()
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
