"""IAM's `Marker`/`MaxItems` pagination over a sorted list.

The marker is opaque to clients (base64url of the next item's sort key), so a page boundary stays
put when items before it are deleted. MaxItems defaults to 100 as in IAM's model documentation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from podid.errors import ValidationError

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


def paginate(
    items: Sequence[T], key: Callable[[T], str], marker: str | None, max_items: int | None
) -> tuple[list[T], str | None]:
    """Return one page of `items` (sorted by `key`) and the marker of the next page, if any."""
    ordered = sorted(items, key=key)
    start = 0
    if marker:
        try:
            after = base64.urlsafe_b64decode(marker.encode() + b"=" * (-len(marker) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationError("Invalid Marker.") from None
        start = next((i for i, item in enumerate(ordered) if key(item) >= after), len(ordered))
    limit = max_items or DEFAULT_MAX_ITEMS
    page = ordered[start : start + limit]
    if start + limit < len(ordered):
        nxt = key(ordered[start + limit])
        return page, base64.urlsafe_b64encode(nxt.encode()).decode().rstrip("=")
    return page, None
