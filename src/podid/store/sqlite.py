"""A durable document store: tables of JSON documents by string key, mirrored in memory.

Every service keeps its domain objects here, keyed so that account and region are part of the key
(`"<account>/<region>/<name>"` or `"<account>/<name>"` for global services). Reads are served from
the in-memory mirror; writes go to SQLite (WAL, `synchronous=FULL`) and are committed before the
call returns, so an acknowledged write survives SIGKILL. `transaction()` groups several writes into
one commit.

The store is not thread-safe by design: the endpoint runs on one event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
"""


class Store:
    """Tables of JSON-serializable documents keyed by string."""

    def __init__(self, path: Path | str | None = None) -> None:
        """Open (or create) the store at `path`; None keeps everything in memory only."""
        self.path = Path(path) if path is not None else None
        self._tables: dict[str, dict[str, Any]] = {}
        self._depth = 0
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            for tbl, key, value in db.execute("SELECT tbl, key, value FROM documents"):
                self._tables.setdefault(tbl, {})[key] = json.loads(value)
            self._db = db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # reads (from memory)
    def get(self, table: str, key: str) -> Any | None:
        return self._tables.get(table, {}).get(key)

    def scan(self, table: str, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """Items of `table` whose key starts with `prefix`, in key order."""
        rows = self._tables.get(table, {})
        for key in sorted(rows):
            if key.startswith(prefix):
                yield key, rows[key]

    def count(self, table: str, prefix: str = "") -> int:
        return sum(1 for key in self._tables.get(table, {}) if key.startswith(prefix))

    # writes (memory + SQLite)
    def put(self, table: str, key: str, value: Any) -> None:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        self._tables.setdefault(table, {})[key] = json.loads(text)
        self._write("INSERT OR REPLACE INTO documents (tbl, key, value) VALUES (?, ?, ?)", (table, key, text))

    def delete(self, table: str, key: str) -> bool:
        existed = self._tables.get(table, {}).pop(key, None) is not None
        if existed:
            self._write("DELETE FROM documents WHERE tbl = ? AND key = ?", (table, key))
        return existed

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; nested use joins the outer transaction.

        On an exception the SQLite writes are rolled back; the in-memory mirror is reloaded for the
        touched tables so memory and disk agree.
        """
        if self._db is None or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._reload()
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    def _write(self, sql: str, args: tuple[str, ...]) -> None:
        if self._db is not None:
            self._db.execute(sql, args)  # autocommit unless inside transaction()

    def _reload(self) -> None:
        assert self._db is not None
        self._tables = {}
        for tbl, key, value in self._db.execute("SELECT tbl, key, value FROM documents"):
            self._tables.setdefault(tbl, {})[key] = json.loads(value)
