"""Framework-free HTTP request and response values shared by the wire layer and the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, overload
from urllib.parse import parse_qsl

_T = TypeVar("_T")


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping that keeps the original spelling and order.

    Repeated headers are joined with "," as HTTP allows; `raw` keeps every (name, value) pair.
    """

    __slots__ = ("_map", "raw")

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        self.raw: list[tuple[str, str]] = pairs
        merged: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            key = name.lower()
            if key in merged:
                merged[key] = (merged[key][0], merged[key][1] + "," + value)
            else:
                merged[key] = (name, value)
        self._map = merged

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()][1]

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, /, default: str | _T) -> str | _T: ...

    def get(self, key: str, /, default: object = None) -> object:
        # Mapping.get would go through __getitem__ and a KeyError for every absent header.
        hit = self._map.get(key.lower())
        return default if hit is None else hit[1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (name for name, _ in self._map.values())

    def __len__(self) -> int:
        return len(self._map)

    def lower_items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, (_, v) in self._map.items()]


@dataclass
class HttpRequest:
    """One inbound HTTP request as the wire layer sees it.

    `path` is the raw (still percent-encoded) path, `query` the raw query string without `?`.
    `body` holds the whole body for every service but S3, whose gateway stage may instead pass
    `stream` (an async iterator of chunks) so that large objects are never held in memory.
    """

    method: str
    path: str
    query: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    remote: str = "127.0.0.1"
    scheme: str = "http"

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def query_pairs(self) -> list[tuple[str, str]]:
        """Decoded query parameters in order, blank values kept."""
        return parse_qsl(self.query, keep_blank_values=True)


@dataclass
class HttpResponse:
    """One HTTP response; `stream` (if set) is sent after `body` as the response payload."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None
