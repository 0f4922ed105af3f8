"""Go parsing rules the webhook depends on (strconv, encoding/csv, path/filepath), case by case."""

from __future__ import annotations

import pytest

from podid.webhook.gocompat import clean, csv_first_record, filepath_join, parse_bool, parse_int64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3600", 3600),
        ("+3600", 3600),
        ("-5", -5),
        ("0", 0),
        ("007", 7),
        ("9223372036854775807", 9223372036854775807),
        ("9223372036854775808", None),  # out of int64 range
        ("-9223372036854775809", None),
        (" 3600", None),
        ("3600 ", None),
        ("1_000", None),  # underscores only with base 0
        ("0x10", None),
        ("36.5", None),
        ("", None),
        ("١٢", None),  # Python's int() accepts Arabic-Indic digits; Go does not
    ],
)
def test_parse_int64(text: str, expected: int | None) -> None:
    assert parse_int64(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("t", True),
        ("T", True),
        ("1", True),
        ("false", False),
        ("F", False),
        ("0", False),
        ("yes", None),
        ("tRue", None),
        (" true", None),
        ("", None),
    ],
)
def test_parse_bool(text: str, expected: bool | None) -> None:
    assert parse_bool(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sidecar", ["sidecar"]),
        ("a,b", ["a", "b"]),
        ("a, b", ["a", " b"]),  # no TrimLeadingSpace: " b" names no container
        ('"a,b",c', ["a,b", "c"]),
        ('"say ""hi""",x', ['say "hi"', "x"]),
        ("a,,b", ["a", "", "b"]),
        ("\n\nfirst\nsecond", ["first"]),  # empty lines skipped, first record only
        ('"multi\nline",z', ["multi\nline", "z"]),
        ("a\r\nb", ["a"]),
        ("", None),  # io.EOF
        ("\n", None),
        ('a"b', None),  # bare quote in non-quoted field
        ('"a"b', None),  # extraneous quote after the closing one
        ('"open', None),  # missing closing quote
    ],
)
def test_csv_first_record(text: str, expected: list[str] | None) -> None:
    assert csv_first_record(text) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("/var/run/secrets/pods.eks.amazonaws.com/serviceaccount", "eks-pod-identity-token"),
         "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"),
        (("/mnt/", "token"), "/mnt/token"),
        (("/mnt", "/token"), "/mnt/token"),
        (("/mnt//x/./y/..", "token"), "/mnt/x/token"),
        (("", "token"), "token"),
        (("/a", ""), "/a"),
        (("", ""), ""),
        (("/", "../t"), "/t"),
    ],
)  # fmt: skip
def test_filepath_join(parts: tuple[str, str], expected: str) -> None:
    assert filepath_join(*parts) == expected


def test_clean_relative() -> None:
    assert clean("") == "."
    assert clean("a/../..") == ".."
    assert clean("./") == "."
