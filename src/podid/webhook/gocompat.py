"""Go standard-library parsing the real webhook relies on, reproduced so edge cases match.

Annotation values are parsed by Go's `strconv.ParseInt(s, 10, 64)`, `strconv.ParseBool` and
`encoding/csv`, and file paths are built with `path/filepath.Join`. Python's own equivalents
differ at the edges (`int(" 7")` works, `csv` accepts bare quotes), so a pod annotated the same way
would be mutated differently; these functions follow Go's rules.
"""

from __future__ import annotations

import re

_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_int64(value: str) -> int | None:
    """`strconv.ParseInt(value, 10, 64)`: the integer, or None where Go returns an error."""
    if not _INT_RE.fullmatch(value):
        return None
    number = int(value)
    if number < _INT64_MIN or number > _INT64_MAX:
        return None
    return number


def parse_bool(value: str) -> bool | None:
    """`strconv.ParseBool(value)`: the boolean, or None where Go returns an error."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def csv_first_record(value: str) -> list[str] | None:
    """The first record `encoding/csv.Reader.Read` returns (default options), or None on error/EOF.

    Go skips empty lines, keeps spaces around fields, accepts `""` inside quoted fields, lets a
    quoted field span lines, and rejects a quote inside an unquoted field or after a closing quote.
    """
    text = value.replace("\r\n", "\n")
    pos = 0
    # Skip empty lines; EOF before any record is io.EOF (an error for the caller).
    while pos < len(text) and text[pos] == "\n":
        pos += 1
    if pos >= len(text):
        return None
    fields: list[str] = []
    while True:
        if pos < len(text) and text[pos] == '"':
            pos += 1
            chunk: list[str] = []
            while True:
                if pos >= len(text):
                    return None  # extraneous or missing " in quoted-field
                ch = text[pos]
                if ch == '"':
                    if pos + 1 < len(text) and text[pos + 1] == '"':
                        chunk.append('"')
                        pos += 2
                        continue
                    pos += 1
                    break
                chunk.append(ch)
                pos += 1
            fields.append("".join(chunk))
            if pos >= len(text) or text[pos] == "\n":
                return fields
            if text[pos] != ",":
                return None  # extraneous or missing " in quoted-field
            pos += 1
            continue
        end = pos
        while end < len(text) and text[end] not in ",\n":
            end += 1
        field = text[pos:end]
        if '"' in field:
            return None  # bare " in non-quoted-field
        fields.append(field)
        if end >= len(text) or text[end] == "\n":
            return fields
        pos = end + 1


def filepath_join(*elements: str) -> str:
    """`path/filepath.Join` on Linux: join the non-empty elements with "/" and clean the result."""
    parts = [e for e in elements if e]
    if not parts:
        return ""
    return clean("/".join(parts))


def clean(path: str) -> str:
    """`path.Clean`: the shortest equivalent path (no "//", ".", or resolvable "..")."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    joined = "/".join(out)
    if rooted:
        return "/" + joined
    return joined or "."
