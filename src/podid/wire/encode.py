"""Shape-driven writers for response values: XML (query and rest-xml), JSON, and headers.

Values come from providers as plain Python (str, int, bool, float, datetime or epoch numbers or ISO
text for timestamps, bytes/str for blobs, lists, dicts) keyed by botocore member names; unknown keys
and None values are skipped. XML is written as text directly (no DOM), escaping every value.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from botocore.model import ListShape, MapShape, Shape, StructureShape

from podid.wire import timestamps
from podid.wire.decode import timestamp_format, xml_member_name


def _b64(value: Any) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")


def _float_text(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def scalar_text(shape: Shape, value: Any, ts_default: str) -> str:
    """The text form of a scalar in XML or a header."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(timestamps.format_timestamp(value, timestamp_format(shape, ts_default)))
    if kind == "blob":
        return _b64(value)
    if kind in ("float", "double"):
        return _float_text(value)
    if kind in ("integer", "long", "short", "byte"):
        return str(int(value))
    return str(value)


# --- XML ------------------------------------------------------------------------------------------


# The per-shape facts below are cached by shape object: botocore builds each model's shapes once
# (`ServiceModel.operation_model` is cached) and the writers ask the same questions on every response.
@lru_cache(maxsize=8192)
def namespace_attrs(shape: Shape) -> str:
    """` xmlns="..."` / ` xmlns:p="..."` for a shape with `xmlNamespace`."""
    meta = shape.serialization.get("xmlNamespace")
    if meta is None:
        return ""
    if isinstance(meta, str):
        return f" xmlns={quoteattr(meta)}"
    prefix = meta.get("prefix")
    name = f"xmlns:{prefix}" if prefix else "xmlns"
    return f" {name}={quoteattr(str(meta['uri']))}"


@lru_cache(maxsize=8192)
def _xml_body_members(shape: StructureShape) -> tuple[tuple[str, Shape, str], ...]:
    """(member name, shape, element name) of the members written as child elements, in model order."""
    return tuple(
        (name, member, xml_member_name(member, name))
        for name, member in shape.members.items()
        if not member.serialization.get("location") and not member.serialization.get("xmlAttribute")
    )


@lru_cache(maxsize=8192)
def _xml_attribute_members(shape: StructureShape) -> tuple[tuple[str, Shape, str], ...]:
    """(member name, shape, attribute name) of the members written as XML attributes."""
    return tuple(
        (name, member, str(member.serialization.get("name", name)))
        for name, member in shape.members.items()
        if member.serialization.get("xmlAttribute")
    )


XmlWriter = Callable[[Any, list[str]], None]


def _scalar_converter(shape: Shape) -> Callable[[Any], str]:
    """`scalar_text(shape, v, ISO8601)` with the shape's kind (and timestamp format) decided once."""
    kind = shape.type_name
    if kind == "string":
        return str
    if kind == "boolean":
        return lambda v: "true" if v else "false"
    if kind == "timestamp":
        fmt = timestamp_format(shape, timestamps.ISO8601)
        return lambda v: str(timestamps.format_timestamp(v, fmt))
    if kind == "blob":
        return _b64
    if kind in ("float", "double"):
        return _float_text
    if kind in ("integer", "long", "short", "byte"):
        return lambda v: str(int(v))
    return str


@lru_cache(maxsize=8192)
def _xml_writer(shape: Shape, name: str) -> XmlWriter:
    """Writes one `<name>` element of `shape` (as `xml_element` does); a scalar's tags are built once."""
    kind = shape.type_name
    if kind in ("list", "map", "structure") and isinstance(shape, ListShape | MapShape | StructureShape):

        def write_container(value: Any, out: list[str]) -> None:
            xml_element(shape, value, name, out)

        return write_container
    head = f"<{name}{namespace_attrs(shape)}>"
    tail = f"</{name}>"
    to_text = _scalar_converter(shape)

    def write_scalar(value: Any, out: list[str]) -> None:
        out.append(head + escape(to_text(value)) + tail)

    return write_scalar


@lru_cache(maxsize=8192)
def _xml_member_writers(shape: StructureShape) -> tuple[tuple[str, XmlWriter], ...]:
    return tuple((name, _xml_writer(member, element)) for name, member, element in _xml_body_members(shape))


def xml_members(shape: StructureShape, value: Mapping[str, Any], out: list[str]) -> None:
    """Write the body members of a structure (those without an HTTP location) as child elements."""
    for member_name, write in _xml_member_writers(shape):
        item = value.get(member_name)
        if item is not None:
            write(item, out)


def xml_element(shape: Shape, value: Any, name: str, out: list[str], extra_attrs: str = "") -> None:
    kind = shape.type_name
    if kind == "list" and isinstance(shape, ListShape):
        if shape.serialization.get("flattened"):
            write = _xml_writer(shape.member, name)
            for item in value:
                if item is not None:
                    write(item, out)
            return
        write = _xml_writer(shape.member, str(shape.member.serialization.get("name", "member")))
        out.append(f"<{name}{extra_attrs}{namespace_attrs(shape)}>")
        for item in value:
            if item is not None:
                write(item, out)
        out.append(f"</{name}>")
        return
    if kind == "map" and isinstance(shape, MapShape):
        key_name = str(shape.key.serialization.get("name", "key"))
        value_name = str(shape.value.serialization.get("name", "value"))
        flat = bool(shape.serialization.get("flattened"))
        if not flat:
            out.append(f"<{name}{extra_attrs}{namespace_attrs(shape)}>")
        for key, item in value.items():
            out.append(f"<{name}>" if flat else "<entry>")
            xml_element(shape.key, key, key_name, out)
            if item is not None:
                xml_element(shape.value, item, value_name, out)
            out.append(f"</{name}>" if flat else "</entry>")
        if not flat:
            out.append(f"</{name}>")
        return
    if kind == "structure" and isinstance(shape, StructureShape):
        attrs = extra_attrs + namespace_attrs(shape)
        for member_name, member, attr_name in _xml_attribute_members(shape):
            if value.get(member_name) is not None:
                attrs += (
                    f" {attr_name}={quoteattr(scalar_text(member, value[member_name], timestamps.ISO8601))}"
                )
        out.append(f"<{name}{attrs}>")
        xml_members(shape, value, out)
        out.append(f"</{name}>")
        return
    text = escape(scalar_text(shape, value, timestamps.ISO8601))
    out.append(f"<{name}{extra_attrs}{namespace_attrs(shape)}>{text}</{name}>")


# --- JSON -----------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _json_body_members(shape: StructureShape) -> tuple[tuple[str, Shape, str], ...]:
    """(member name, shape, JSON key) of the members written in the body, in model order."""
    return tuple(
        (name, member, str(member.serialization.get("name", name)))
        for name, member in shape.members.items()
        if not member.serialization.get("location")
    )


def json_value(shape: Shape, value: Any) -> Any:
    """Convert a provider value to its JSON form (body members only for structures)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        out: dict[str, Any] = {}
        for member_name, member, wire_name in _json_body_members(shape):
            item = value.get(member_name)
            if item is not None:
                out[wire_name] = json_value(member, item)
        return out
    if kind == "list" and isinstance(shape, ListShape):
        return [json_value(shape.member, item) for item in value]
    if kind == "map" and isinstance(shape, MapShape):
        return {str(k): (None if v is None else json_value(shape.value, v)) for k, v in value.items()}
    if kind == "timestamp":
        return timestamps.format_timestamp(value, timestamp_format(shape, timestamps.UNIX))
    if kind == "blob":
        return _b64(value)
    if kind in ("float", "double"):
        number = float(value)
        return number if math.isfinite(number) else _float_text(number)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


def dump_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- headers --------------------------------------------------------------------------------------


def header_text(shape: Shape, value: Any) -> str:
    """The text of one `location: header` member."""
    if shape.type_name == "list" and isinstance(shape, ListShape):
        parts = []
        for item in value:
            text = header_text(shape.member, item)
            if shape.member.type_name == "string" and ("," in text or '"' in text):
                text = '"' + text.replace('"', '\\"') + '"'
            parts.append(text)
        return ",".join(parts)
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return _b64(json.dumps(value, separators=(",", ":")))
    return scalar_text(shape, value, timestamps.RFC822)


def header_list(text: str) -> list[str]:
    """Split a comma-separated header list, honouring double-quoted items."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items
