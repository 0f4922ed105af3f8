"""Timestamp conversions for the wire protocols (iso8601, unixTimestamp, rfc822).

Requests are read leniently (any of the three forms is accepted where the model names one, as AWS
front ends do); responses are written exactly: ISO 8601 with milliseconds (`2026-11-28T20:00:00.123Z`),
epoch seconds with millisecond precision, or the HTTP date of RFC 7231.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime

ISO8601 = "iso8601"
UNIX = "unixtimestamp"
RFC822 = "rfc822"

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


class TimestampError(ValueError):
    """The text is not a timestamp in any accepted form."""


def parse_timestamp(text: str, fmt: str) -> datetime:
    """Read `text` as a UTC-aware datetime; `fmt` (lower-case) is tried first."""
    value = text.strip()
    order = [fmt, ISO8601, UNIX, RFC822]
    for kind in dict.fromkeys(order):
        parsed = _try(kind, value)
        if parsed is not None:
            return parsed
    raise TimestampError(text)


def _try(kind: str, value: str) -> datetime | None:
    try:
        if kind == UNIX:
            if not _NUMBER.fullmatch(value):
                return None
            return datetime.fromtimestamp(float(value), UTC)
        if kind == RFC822:
            parsed = parsedate_to_datetime(value)
        else:
            parsed = datetime.fromisoformat(value)
    except (ValueError, TypeError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def from_number(value: float) -> datetime:
    """An epoch number (JSON bodies) as a UTC datetime."""
    return datetime.fromtimestamp(value, UTC)


def to_datetime(value: object) -> datetime:
    """Normalise what a provider returns (datetime, epoch number, ISO text) to an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_number(float(value))
    if isinstance(value, str):
        return parse_timestamp(value, ISO8601)
    raise TypeError(f"not a timestamp: {value!r}")


def format_iso8601(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.year < 1000:  # strftime's %Y does not pad; keep its form for these
        return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond // 1000:03d}Z"
    # Formatted by hand: strftime costs more, and this runs for every timestamp in every response.
    return (
        f"{value.year}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def format_unix(value: datetime) -> int | float:
    seconds = calendar.timegm(value.astimezone(UTC).timetuple())
    millis = value.microsecond // 1000
    return seconds if millis == 0 else seconds + millis / 1000


def format_rfc822(value: datetime) -> str:
    return formatdate(calendar.timegm(value.astimezone(UTC).timetuple()), usegmt=True)


def format_timestamp(value: object, fmt: str) -> str | int | float:
    """Write a provider's timestamp in the wire form `fmt` (lower-case model name)."""
    when = to_datetime(value)
    if fmt == UNIX:
        return format_unix(when)
    if fmt == RFC822:
        return format_rfc822(when)
    return format_iso8601(when)
