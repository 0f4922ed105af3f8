"""Careful XML reading for request bodies: no DTDs, no entities, namespaces stripped on demand.

`xml.etree` does not fetch external entities, but it does expand internal ones (billion laughs), so
any document type declaration is refused before parsing, as S3 refuses them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

_MAX_BODY = 20 * 1024 * 1024


class XmlError(ValueError):
    """The body is not well-formed XML podid is willing to read."""


def parse_xml(body: bytes) -> ET.Element:
    """Parse `body` into an element tree, refusing DTDs and entity declarations."""
    if len(body) > _MAX_BODY:
        raise XmlError("XML document too large")
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise XmlError("XML document type declarations are not allowed")
    try:
        parser = ET.XMLParser(target=ET.TreeBuilder())
        parser.feed(body)
        return parser.close()
    except ET.ParseError as exc:
        raise XmlError(str(exc)) from None


# Characters XML 1.0 cannot carry at all, not even as character references (controls, lone
# surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """`value` escaped for XML character data; characters XML 1.0 cannot carry become `\\uXXXX`.

    Error messages echo client input (`Value '\\x1f' at 'roleName' failed to satisfy ...`): written
    raw, a control character or a lone surrogate would make the whole response unparsable (or not
    even encodable as UTF-8). The escape keeps the message readable and the document well-formed.
    """
    return escape(_NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", value))


def local_name(tag: str) -> str:
    """`{namespace}Name` -> `Name`."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag
