"""A small shape-driven example generator for round-trip tests.

Fills every required member and, deterministically, a good share of optional ones, respecting
lengths, ranges, enums and patterns (candidate strings are tried against the model's Java pattern
with the same compiler the validator uses). Members it cannot fill (a pattern no candidate meets)
are left out when optional; `Unfillable` is raised when required.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from podid.wire.validate import Validator

_CANDIDATES = (
    "abc",
    "Abc1",
    "a-b_c",
    "name1",
    "x",
    "/",
    "/path/",
    "arn:aws:iam::123456789012:role/app-role",
    "arn:aws:iam::123456789012:policy/app-policy",
    "arn:aws:eks:us-west-2:123456789012:cluster/demo",
    "123456789012",
    "AKIAIOSFODNN7EXAMPLE",
    "2011-06-15",
    "a.b.c",
    "aaa.bbb.ccc",
    "value",
    "us-west-2",
    "AROA1234567890EXAMPLE",
    "a" * 20,
    "a" * 40,
    "sg-12345678",
    "subnet-12345678",
    "10.0.0.0/16",
    "1.29",
    "https://example.com/x",
    "ab",
    "1",
    "{}",
    "a@b.com",
    "A" * 64,
    "v1",
    "123456",
    "o-abcdefghij/r-abcd",
    "AWS::S3::Bucket",
    "arn:aws:kms:us-west-2:123456789012:key/abc",
)


class Unfillable(Exception):
    """A required member whose constraints no candidate meets."""


class ExampleGenerator:
    def __init__(self, *, share: int = 3, depth: int = 5, header_safe: bool = False) -> None:
        self._validator = Validator()
        self._share = share  # 1: every optional member; n: those whose name hash % n != 0
        self._depth = depth
        self._header_safe = header_safe

    def structure(self, shape: StructureShape, depth: int = 0, all_members: bool = False) -> dict[str, Any]:
        required = set(shape.metadata.get("required", ()))
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("eventstream") or member.metadata.get("eventstream"):
                continue
            wanted = (
                name in required
                or all_members
                or self._share == 1
                or zlib.crc32(name.encode()) % self._share != 0
            )
            if not wanted or (depth >= self._depth and name not in required):
                continue
            try:
                out[name] = self.value(member, depth + 1, name)
            except Unfillable:
                if name in required:
                    raise
        return out

    def value(self, shape: Shape, depth: int, name: str = "") -> Any:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure" and isinstance(shape, StructureShape):
            if shape.is_document_type:
                return {"a": 1}
            if meta.get("union"):
                for member_name, member in shape.members.items():
                    try:
                        return {member_name: self.value(member, depth + 1, member_name)}
                    except Unfillable:
                        continue
                raise Unfillable(shape.name)
            return self.structure(shape, depth)
        if kind == "list" and isinstance(shape, ListShape):
            count = max(1, int(meta.get("min", 1)))
            count = min(count, int(meta.get("max", 2)), 2)
            return [self.value(shape.member, depth + 1) for _ in range(count)]
        if kind == "map" and isinstance(shape, MapShape):
            key = self.value(shape.key, depth + 1)
            return {key: self.value(shape.value, depth + 1)}
        if kind == "string":
            return self.string(shape)
        if kind in ("integer", "long"):
            low = int(meta.get("min", 1))
            high = int(meta.get("max", max(low, 100)))
            return min(max(low, 7), high)
        if kind in ("float", "double"):
            return float(meta.get("min", 1.5))
        if kind == "boolean":
            return True
        if kind == "timestamp":
            return datetime(2026, 11, 28, 20, 0, 1, tzinfo=UTC)
        if kind == "blob":
            return b"blob-data"
        raise Unfillable(kind)

    def string(self, shape: Shape) -> str:
        if shape.enum:
            return str(shape.enum[0])
        meta = shape.metadata
        low = int(meta.get("min", 0))
        high = int(meta.get("max", 1 << 30))
        pattern = meta.get("pattern")
        compiled = self._validator.pattern(pattern) if pattern else None
        for candidate in _CANDIDATES:
            if len(candidate) < low:
                candidate = candidate + "a" * (low - len(candidate))
            if not low <= len(candidate) <= high:
                continue
            if compiled is None or compiled.fullmatch(candidate) is not None:
                return candidate
        raise Unfillable(f"{shape.name}: {pattern}")
