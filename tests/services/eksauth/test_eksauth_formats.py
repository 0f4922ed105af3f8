"""The audit record's hand-made times and ids are what strftime and uuid4 would write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from podid.services.eksauth.domain import _console_time, _event_time, _uuid4


@given(st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)))
def test_times_are_strftime(when: datetime) -> None:
    assert _event_time(when) == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _console_time(when) == when.strftime("%b %d, %Y, %I:%M:%S %p")


def test_ids_are_version_4_uuids() -> None:
    seen = set()
    for _ in range(2000):
        text = _uuid4()
        value = uuid.UUID(text)
        assert str(value) == text
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 2000
