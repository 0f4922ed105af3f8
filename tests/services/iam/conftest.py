"""Fixtures for IAM domain tests: an in-memory store, a fake clock, the domain and the authorizer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podid.clock import FakeClock
from podid.services.iam import IamDomain
from podid.services.iam.authorizer import Authorizer
from podid.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def iam(clock: FakeClock) -> IamDomain:
    return IamDomain(Store(), clock)


@pytest.fixture
def authorizer(iam: IamDomain) -> Authorizer:
    return Authorizer(iam)
