"""Unit tests for the pure helpers: timestamps, header lists, safe XML, Java patterns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podid.wire import timestamps
from podid.wire.encode import header_list
from podid.wire.validate import Validator
from podid.wire.xmlsafe import XmlError, local_name, parse_xml

WHEN = datetime(2026, 11, 28, 20, 0, 0, 123000, tzinfo=UTC)


def test_timestamp_formats() -> None:
    assert timestamps.format_timestamp(WHEN, timestamps.ISO8601) == "2026-11-28T20:00:00.123Z"
    assert timestamps.format_timestamp(WHEN, timestamps.UNIX) == 1795896000.123
    assert timestamps.format_timestamp(WHEN.replace(microsecond=0), timestamps.UNIX) == 1795896000
    assert timestamps.format_timestamp(WHEN, timestamps.RFC822) == "Sat, 28 Nov 2026 20:00:00 GMT"
    naive = datetime(2026, 11, 28, 20, 0, 0)
    assert timestamps.format_timestamp(naive, timestamps.ISO8601) == "2026-11-28T20:00:00.000Z"
    assert timestamps.format_timestamp(1795896000, timestamps.ISO8601) == "2026-11-28T20:00:00.000Z"


@pytest.mark.parametrize(
    "text",
    ["2026-11-28T20:00:00.123Z", "2026-11-28T21:00:00.123+01:00", "1795896000.123"],
)
def test_timestamp_parsing_is_lenient(text: str) -> None:
    assert timestamps.parse_timestamp(text, timestamps.ISO8601) == WHEN


def test_timestamp_parsing_rfc822_and_garbage() -> None:
    parsed = timestamps.parse_timestamp("Sat, 28 Nov 2026 20:00:00 GMT", timestamps.RFC822)
    assert parsed == WHEN.replace(microsecond=0)
    with pytest.raises(timestamps.TimestampError):
        timestamps.parse_timestamp("yesterday", timestamps.ISO8601)


def test_header_list_honours_quotes() -> None:
    assert header_list('a, "b,c", "d\\"e"') == ["a", "b,c", 'd"e']


def test_xml_refuses_entities_and_strips_namespaces() -> None:
    root = parse_xml(b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet/></Tagging>')
    assert local_name(root.tag) == "Tagging"
    with pytest.raises(XmlError):
        parse_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    with pytest.raises(XmlError):
        parse_xml(b"<a><b></a>")


def test_java_unicode_classes() -> None:
    pattern = Validator().pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
    assert pattern.fullmatch("Straße 12") is not None
    assert pattern.fullmatch("日本") is not None
    assert pattern.fullmatch("a!b") is None
