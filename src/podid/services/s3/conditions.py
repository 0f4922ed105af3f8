"""HTTP preconditions and ranges on objects, as S3 evaluates them.

Preconditions (RFC 7232 as S3 documents it for GetObject/HeadObject/CopyObject): `If-Match` false
-> 412; else `If-Unmodified-Since` false -> 412; `If-None-Match` matching -> 304 (GET/HEAD); else
`If-Modified-Since` not modified -> 304. Ranges: one `bytes=a-b`, `bytes=a-` or `bytes=-n`; a
syntactically invalid or multi-range header is ignored (the whole object is sent, as S3 does); a
range starting past the end is `InvalidRange` 416.
"""

from __future__ import annotations

import re
from datetime import datetime

from podid.services.s3 import errors
from podid.services.s3.model import ObjectRecord, parse_time

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.strip('"') == bare:
            return True
    return False


def check_preconditions(
    record: ObjectRecord,
    *,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since: datetime | None,
    if_unmodified_since: datetime | None,
    read: bool = True,
) -> None:
    modified = parse_time(record.modified)
    if if_match is not None:
        if not _etag_matches(if_match, record.etag):
            raise errors.precondition_failed("If-Match")
    elif if_unmodified_since is not None and modified > if_unmodified_since:
        raise errors.precondition_failed("If-Unmodified-Since")
    if if_none_match is not None:
        if _etag_matches(if_none_match, record.etag):
            if read:
                raise errors.not_modified()
            raise errors.precondition_failed("If-None-Match")
    elif if_modified_since is not None and modified <= if_modified_since:
        if read:
            raise errors.not_modified()
        raise errors.precondition_failed("If-Modified-Since")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a Range header, None for the whole object."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            raise errors.invalid_range(size, header)
        return start, min(end, size - 1)
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise errors.invalid_range(size, header)
    return max(0, size - suffix), size - 1
