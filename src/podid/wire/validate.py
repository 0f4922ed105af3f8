"""Validation of parsed input against the constraints of botocore's shapes.

AWS services built on Coral check every input member against its model constraints before the
operation runs and answer with one error listing every failure, e.g. (IAM)::

    1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [\\w+=,.@-]+

Member paths are lower-camel-cased member names joined by dots; list elements appear as
`<list>.<n>.member` (1-based) and map values as `<map>.<key>`, as Coral prints them. Values of
members marked `sensitive` are not echoed (our choice; AWS redacts sensitive values in logs, and the
exact wire form for them is not documented).

The models' patterns are Java regular expressions; they are compiled with the `regex` package, which
reads Java's `\\p{L}`-style classes that Python's `re` cannot. Patterns written only in the syntax both
engines read the same way (`re_compatible`: ASCII, no class escapes such as `\\w`, `\\d` or `\\p{..}`
whose Unicode tables differ, no groups with `(?`, no nested or set-operation classes) are compiled
with `re` instead, which matches them several times faster (the EKS Auth token: ~4 us instead of
~25 us). Matching is whole-value (Java's `matches()`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import regex  # type: ignore[import-untyped]
from botocore.model import ListShape, MapShape, Shape, StructureShape

from podid.errors import AwsError


class _Pattern(Protocol):
    def fullmatch(self, string: str) -> object | None: ...


@dataclass(frozen=True)
class ValidationFailure:
    """One broken constraint: where (`path` as AWS prints it, `members` as model names/indexes)."""

    path: str
    members: tuple[str | int, ...]
    constraint: str  # required | min | max | length | pattern | enum | type
    message: str


class ModelValidationError(AwsError):
    """Input that breaks the model: the service's validation error, carrying every failure.

    The code and status are the addressed service's (`ValidationError` for IAM/STS/CloudFormation,
    `InvalidParameterException` for EKS and EKS Auth, ...); providers may inspect `failures` to map a
    specific member to a more specific error (EKS Auth maps a bad `token` to InvalidTokenException).
    """

    def __init__(self, failures: Sequence[ValidationFailure], *, code: str, status: int = 400) -> None:
        count = len(failures)
        noun = "error" if count == 1 else "errors"
        message = f"{count} validation {noun} detected: " + "; ".join(f.message for f in failures)
        super().__init__(message, code=code, status=status, sender_fault=True)
        self.failures: tuple[ValidationFailure, ...] = tuple(failures)

    def failed_members(self) -> set[str]:
        """Top-level input member names (model spelling) that failed."""
        return {str(f.members[0]) for f in self.failures if f.members}


_LITERAL_ESCAPES = frozenset("\\.-/+*?()[]{}|^$:=,@_#&!%'\"<>~` ;")
_SET_OPERATIONS = ("[[", "--", "&&", "||", "~~", "(?")


def re_compatible(source: str) -> bool:
    """Whether `re` and `regex` (VERSION0) read this pattern alike: printable ASCII, backslashes only
    before punctuation (literal escapes), no `(?` constructs, no nested classes or set operations."""
    if not source.isascii() or not source.isprintable():
        return False
    if any(op in source for op in _SET_OPERATIONS):
        return False
    index = source.find("\\")
    while index != -1:
        if index + 1 >= len(source) or source[index + 1] not in _LITERAL_ESCAPES:
            return False
        index = source.find("\\", index + 2)
    return True


def camel_path(name: str) -> str:
    return name[:1].lower() + name[1:]


def render_value(value: object, shape: Shape | None) -> str:
    """The `Value ...` part of a Coral message."""
    if value is None:
        return "Value null"
    if shape is not None and shape.metadata.get("sensitive"):
        return "Value"
    return f"Value '{_java_str(value)}'"


def _java_str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(_java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


def failure(
    members: tuple[str | int, ...], path: str, value: object, shape: Shape | None, constraint: str, rule: str
) -> ValidationFailure:
    message = f"{render_value(value, shape)} at '{path}' failed to satisfy constraint: {rule}"
    return ValidationFailure(path, members, constraint, message)


class Validator:
    """Checks parsed params against one service's shapes; compiled patterns are cached."""

    def __init__(self) -> None:
        self._patterns: dict[str, _Pattern] = {}

    def pattern(self, source: str) -> _Pattern:
        compiled = self._patterns.get(source)
        if compiled is None:
            compiled = None
            if re_compatible(source):
                try:
                    compiled = re.compile(source)
                except re.error:
                    compiled = None  # `regex` decides (and reports) what `re` cannot read
            if compiled is None:
                compiled = regex.compile(source, regex.VERSION0)
            self._patterns[source] = compiled
        return compiled

    def validate(self, shape: StructureShape | None, params: Mapping[str, Any]) -> list[ValidationFailure]:
        found: list[ValidationFailure] = []
        if shape is not None:
            self._structure(shape, params, (), "", found)
        return found

    def _structure(
        self,
        shape: StructureShape,
        value: Mapping[str, Any],
        members: tuple[str | int, ...],
        path: str,
        out: list[ValidationFailure],
    ) -> None:
        required = shape.metadata.get("required", ())
        for name, member in shape.members.items():
            item = value.get(name)
            if item is None and name not in required:
                continue
            sub_path = f"{path}.{camel_path(name)}" if path else camel_path(name)
            if item is None:
                if name in required:
                    out.append(
                        failure(
                            (*members, name), sub_path, None, member, "required", "Member must not be null"
                        )
                    )
                continue
            self._value(member, item, (*members, name), sub_path, out)

    def _value(
        self,
        shape: Shape,
        value: Any,
        members: tuple[str | int, ...],
        path: str,
        out: list[ValidationFailure],
    ) -> None:
        meta = shape.metadata
        kind = shape.type_name
        if kind == "structure":
            if (
                isinstance(value, Mapping)
                and isinstance(shape, StructureShape)
                and not shape.is_document_type
            ):
                self._structure(shape, value, members, path, out)
            return
        if kind in ("string", "blob", "list", "map"):
            if kind == "blob" and not isinstance(value, bytes | bytearray | str):
                return  # a stream: its length is checked by whoever reads it
            size = len(value)
            if "min" in meta and size < meta["min"]:
                rule = f"Member must have length greater than or equal to {meta['min']}"
                out.append(failure(members, path, value, shape, "min", rule))
            if "max" in meta and size > meta["max"]:
                rule = f"Member must have length less than or equal to {meta['max']}"
                out.append(failure(members, path, value, shape, "max", rule))
        if kind == "string" and isinstance(value, str):
            pattern = meta.get("pattern")
            if pattern is not None and self.pattern(pattern).fullmatch(value) is None:
                rule = f"Member must satisfy regular expression pattern: {pattern}"
                out.append(failure(members, path, value, shape, "pattern", rule))
            enum = shape.enum
            if enum and value not in enum:
                rule = "Member must satisfy enum value set: [" + ", ".join(enum) + "]"
                out.append(failure(members, path, value, shape, "enum", rule))
        elif kind in ("integer", "long", "float", "double"):
            if "min" in meta and value < meta["min"]:
                rule = f"Member must have value greater than or equal to {meta['min']}"
                out.append(failure(members, path, value, shape, "min", rule))
            if "max" in meta and value > meta["max"]:
                rule = f"Member must have value less than or equal to {meta['max']}"
                out.append(failure(members, path, value, shape, "max", rule))
        elif kind == "list" and isinstance(shape, ListShape):
            for index, item in enumerate(value, 1):
                if item is None:
                    continue
                self._value(shape.member, item, (*members, index - 1), f"{path}.{index}.member", out)
        elif kind == "map" and isinstance(shape, MapShape):
            for key, item in value.items():
                self._value(shape.key, key, (*members, key), f"{path}.{key}", out)
                if item is not None:
                    self._value(shape.value, item, (*members, key), f"{path}.{key}", out)
