"""Shape-driven readers for request values: query forms, JSON documents, XML elements, and the
text of URI labels, query-string values and headers.

Every reader returns plain Python values shaped like botocore's input (strings, ints, bools, floats,
aware datetimes, bytes for blobs, lists, dicts) and raises `BadValue` for a value of the wrong type,
which the protocol layer turns into the service's validation error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from podid.wire import timestamps
from podid.wire.validate import ValidationFailure, camel_path, failure
from podid.wire.xmlsafe import local_name

_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class BadValue(Exception):
    """A value of the wrong type for its shape."""

    def __init__(self, item: ValidationFailure) -> None:
        super().__init__(item.message)
        self.failure = item


def bad(members: tuple[str | int, ...], value: object, shape: Shape, rule: str) -> BadValue:
    return BadValue(failure(members, member_path(members), value, shape, "type", rule))


def member_path(members: tuple[str | int, ...]) -> str:
    """Model members/indexes as AWS prints them: `tags.1.member.key`."""
    return ".".join(f"{m + 1}.member" if isinstance(m, int) else camel_path(m) for m in members)


def timestamp_format(shape: Shape, default: str) -> str:
    fmt = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat")
    return str(fmt).lower() if fmt else default


def scalar_from_text(shape: Shape, text: str, members: tuple[str | int, ...], ts_default: str) -> Any:
    """Convert the text form of a scalar (query, URI, header) to its Python value."""
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in ("integer", "long", "short", "byte"):
        if not _INTEGER.fullmatch(text.strip()):
            raise bad(members, text, shape, "Member must be a number")
        return int(text)
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise bad(members, text, shape, "Member must be a boolean (true or false)")
        return lowered == "true"
    if kind in ("float", "double"):
        if text in _FLOAT_WORDS:
            return _FLOAT_WORDS[text]
        try:
            number = float(text)
        except ValueError:
            raise bad(members, text, shape, "Member must be a number") from None
        if not math.isfinite(number):
            raise bad(members, text, shape, "Member must be a number")
        return number
    if kind == "timestamp":
        try:
            return timestamps.parse_timestamp(text, timestamp_format(shape, ts_default))
        except timestamps.TimestampError:
            raise bad(members, text, shape, "Member must be a timestamp") from None
    if kind == "blob":
        return b64decode(text, shape, members)
    raise bad(members, text, shape, f"Member must be a {kind}")


def b64decode(text: str, shape: Shape, members: tuple[str | int, ...]) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise bad(members, text, shape, "Member must be base64-encoded binary data") from None


# --- query protocol (form fields) ---------------------------------------------------------------


class QueryForm:
    """Flat `A.b.member.1=...` fields with a prefix index for cheap "anything under X?" checks."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = fields
        prefixes: set[str] = set()
        for key in fields:
            start = 0
            while True:
                dot = key.find(".", start)
                if dot < 0:
                    break
                prefixes.add(key[:dot])
                start = dot + 1
        self._prefixes = prefixes

    def has(self, name: str) -> bool:
        return name in self.fields or name in self._prefixes

    def decode(self, shape: StructureShape) -> dict[str, Any]:
        return self._structure(shape, "", ())

    def _value(self, shape: Shape, name: str, members: tuple[str | int, ...]) -> Any:
        kind = shape.type_name
        if kind == "structure" and isinstance(shape, StructureShape):
            return self._structure(shape, name + ".", members)
        if kind == "list" and isinstance(shape, ListShape):
            return self._list(shape, name, members)
        if kind == "map" and isinstance(shape, MapShape):
            return self._map(shape, name, members)
        text = self.fields.get(name)
        if text is None:
            raise bad(members, None, shape, f"Member must be a {kind}")
        return scalar_from_text(shape, text, members, timestamps.ISO8601)

    def _structure(
        self, shape: StructureShape, prefix: str, members: tuple[str | int, ...]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for member_name, member in shape.members.items():
            key = prefix + _query_name(member, member_name)
            if self.has(key):
                out[member_name] = self._value(member, key, (*members, member_name))
        return out

    def _list(self, shape: ListShape, name: str, members: tuple[str | int, ...]) -> list[Any]:
        if self.fields.get(name) == "" and name not in self._prefixes:
            return []  # the query protocol's empty list: `Name=`
        if shape.serialization.get("flattened"):
            base = name
            element_name = shape.member.serialization.get("name")
            if element_name:
                base = ".".join([*name.split(".")[:-1], element_name])
        else:
            base = f"{name}.{shape.member.serialization.get('name', 'member')}"
        items: list[Any] = []
        index = 1
        while self.has(f"{base}.{index}"):
            items.append(self._value(shape.member, f"{base}.{index}", (*members, index - 1)))
            index += 1
        return items

    def _map(self, shape: MapShape, name: str, members: tuple[str | int, ...]) -> dict[str, Any]:
        base = name if shape.serialization.get("flattened") else f"{name}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out: dict[str, Any] = {}
        index = 1
        while self.has(f"{base}.{index}"):
            key = self.fields.get(f"{base}.{index}.{key_name}")
            if key is None:
                raise bad((*members, index - 1), None, shape.key, "Member must not be null")
            value_key = f"{base}.{index}.{value_name}"
            out[key] = self._value(shape.value, value_key, (*members, key)) if self.has(value_key) else None
            index += 1
        return out


def _query_name(member: Shape, default: str) -> str:
    name = member.serialization.get("name")
    return str(name) if name else default


# --- JSON documents -------------------------------------------------------------------------------


# Deeper than any real AWS input (a policy's Condition block is 5 levels, a template's nested
# intrinsic functions a few dozen); recursive readers must never meet a document deeper than this.
MAX_JSON_DEPTH = 100
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (strings skipped); no parsing, no recursion."""
    depth = deepest = 0
    for found in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if found.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(body: bytes) -> Any:
    """Parse a JSON body; empty means `{}`. A document nested too deeply is a `ValueError` like any
    other unparsable body (Python's recursion limit is not the client's problem)."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _MAYBE_SURROGATE.search(body):
        _refuse_lone_surrogates(document)
    return document


# A `\uD800`-style escape or the UTF-8 form of a surrogate (json.loads reads bytes with
# surrogatepass): only then can a decoded string hold a lone surrogate, which no UTF-8 encoder
# accepts. Stored, it would break every later response that carries it; refused here instead.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_lone_surrogates(document: Any) -> None:
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise ValueError("a string holds a lone UTF-16 surrogate")
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def json_value(shape: Shape, value: Any, members: tuple[str | int, ...]) -> Any:
    """Check and convert one decoded JSON value against `shape`."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        if not isinstance(value, dict):
            raise bad(members, value, shape, "Member must be a structure")
        out: dict[str, Any] = {}
        for member_name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            key = member.serialization.get("name", member_name)
            if key in value and value[key] is not None:
                out[member_name] = json_value(member, value[key], (*members, member_name))
        return out
    if kind == "list" and isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise bad(members, value, shape, "Member must be a list")
        return [json_value(shape.member, item, (*members, i)) for i, item in enumerate(value)]
    if kind == "map" and isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise bad(members, value, shape, "Member must be a map")
        return {k: json_value(shape.value, v, (*members, k)) for k, v in value.items()}
    if kind == "string":
        if not isinstance(value, str):
            raise bad(members, value, shape, "Member must be a string")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad(members, value, shape, "Member must be a boolean")
        return value
    if kind in ("integer", "long", "short", "byte"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(members, value, shape, "Member must be an integer")
        return value
    if kind in ("float", "double"):
        if isinstance(value, str) and value in _FLOAT_WORDS:
            return _FLOAT_WORDS[value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(members, value, shape, "Member must be a number")
        return float(value)
    if kind == "timestamp":
        return _json_timestamp(shape, value, members)
    if kind == "blob":
        if not isinstance(value, str):
            raise bad(members, value, shape, "Member must be base64-encoded binary data")
        return b64decode(value, shape, members)
    return value


def _json_timestamp(shape: Shape, value: Any, members: tuple[str | int, ...]) -> datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return timestamps.from_number(float(value))
        if isinstance(value, str):
            return timestamps.parse_timestamp(value, timestamp_format(shape, timestamps.UNIX))
    except (timestamps.TimestampError, OverflowError, OSError, ValueError):
        pass
    raise bad(members, value, shape, "Member must be a timestamp")


# --- XML elements ---------------------------------------------------------------------------------


def xml_member_name(member: Shape, member_name: str) -> str:
    """The element name of a structure member (flattened lists use their member's name)."""
    if member.type_name == "list" and member.serialization.get("flattened") and isinstance(member, ListShape):
        inner = member.member.serialization.get("name")
        if inner:
            return str(inner)
    return str(member.serialization.get("name", member_name))


def xml_value(shape: Shape, nodes: list[ET.Element], members: tuple[str | int, ...]) -> Any:
    """Convert the element(s) that carry one member (several for flattened lists/maps)."""
    kind = shape.type_name
    if kind == "list" and isinstance(shape, ListShape):
        if shape.serialization.get("flattened"):
            items = nodes
        else:
            element = shape.member.serialization.get("name", "member")
            items = [child for child in nodes[0] if local_name(child.tag) == element]
        return [xml_value(shape.member, [item], (*members, i)) for i, item in enumerate(items)]
    if kind == "map" and isinstance(shape, MapShape):
        entries = nodes if shape.serialization.get("flattened") else list(nodes[0])
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out: dict[str, Any] = {}
        for entry in entries:
            children = {local_name(c.tag): c for c in entry}
            key_node = children.get(key_name)
            if key_node is None:
                raise bad(members, None, shape.key, "Member must not be null")
            key = key_node.text or ""
            value_node = children.get(value_name)
            out[key] = None if value_node is None else xml_value(shape.value, [value_node], (*members, key))
        return out
    node = nodes[0]
    if kind == "structure" and isinstance(shape, StructureShape):
        return xml_structure(shape, node, members)
    return scalar_from_text(shape, node.text or "", members, timestamps.ISO8601)


def xml_structure(shape: StructureShape, node: ET.Element, members: tuple[str | int, ...]) -> dict[str, Any]:
    children: dict[str, list[ET.Element]] = {}
    for child in node:
        children.setdefault(local_name(child.tag), []).append(child)
    out: dict[str, Any] = {}
    for member_name, member in shape.members.items():
        if member.serialization.get("location"):
            continue
        if member.serialization.get("xmlAttribute"):
            attr = _xml_attribute(node, str(member.serialization["name"]))
            if attr is not None:
                out[member_name] = attr
            continue
        found = children.get(xml_member_name(member, member_name))
        if found:
            out[member_name] = xml_value(member, found, (*members, member_name))
    return out


def _xml_attribute(node: ET.Element, name: str) -> str | None:
    local = name.split(":", 1)[-1]
    for key, value in node.attrib.items():
        if local_name(key) == local:
            return value
    return None
