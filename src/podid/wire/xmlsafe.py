"""Careful XML reading for request bodies: no DTDs, no entities, namespaces stripped on demand.

`xml.etree` does not fetch external entities, but it does expand internal ones (billion laughs), so
any document type declaration is refused before parsing, as S3 refuses them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

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


def local_name(tag: str) -> str:
    """`{namespace}Name` -> `Name`."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag
