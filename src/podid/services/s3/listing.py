"""Listing keys the way S3 does: prefix, delimiter, common prefixes, max-keys, markers and tokens.

Pure functions over a sorted list of keys (S3 lists in UTF-8 binary order, which for valid keys is
the code point order Python sorts by). `ListObjects` resumes after `Marker`, `ListObjectsV2` after
`StartAfter` or an opaque continuation token (base64 of the last key or common prefix returned);
a common prefix counts once toward `max-keys` and is never split across pages.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from podid.services.s3.errors import invalid_argument

_MAX_CHAR = "\U0010ffff"


@dataclass
class Page:
    keys: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned (the next marker)


def list_page(
    keys: Sequence[str], *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
) -> Page:
    """One page of `keys` (sorted) under `prefix`, strictly after `after`."""
    page = Page()
    if max_keys <= 0:
        return page
    start = bisect_right(keys, after) if after else 0
    if prefix:
        start = max(start, bisect_left(keys, prefix))
    i = start
    count = 0
    n = len(keys)
    while i < n:
        key = keys[i]
        if not key.startswith(prefix):
            break
        if count == max_keys:
            page.truncated = True
            break
        rest = key[len(prefix) :]
        cut = rest.find(delimiter) if delimiter else -1
        if cut >= 0:
            common = prefix + rest[: cut + len(delimiter)]
            if after and common <= after:  # resuming after this very prefix
                i = bisect_right(keys, common + _MAX_CHAR, i)
                continue
            page.prefixes.append(common)
            page.last = common
            count += 1
            i = bisect_right(keys, common + _MAX_CHAR, i)
            continue
        page.keys.append(key)
        page.last = key
        count += 1
        i += 1
    return page


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(("1:" + last).encode("utf-8", "surrogatepass")).decode("ascii")


def decode_token(token: str) -> str:
    """The key a continuation token resumes after; S3's InvalidArgument for a token it never gave."""
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeError):
        text = ""
    if not text.startswith("1:"):
        raise invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
    return text[2:]
