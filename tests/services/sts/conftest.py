"""Fixtures for STS domain tests: IAM + STS domains over an in-memory store with a fake clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from podid.clock import FakeClock
from podid.services.base import Principal
from podid.services.iam import IamDomain
from podid.services.iam.authorizer import Authorizer
from podid.services.identity import CredentialResolver
from podid.services.sts import StsDomain
from podid.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def iam(clock: FakeClock) -> IamDomain:
    return IamDomain(Store(), clock)


@pytest.fixture
def sts(iam: IamDomain, clock: FakeClock) -> StsDomain:
    return StsDomain(iam, clock, os.urandom(32))


@pytest.fixture
def authorizer(iam: IamDomain) -> Authorizer:
    return Authorizer(iam)


@pytest.fixture
def resolver(iam: IamDomain, sts: StsDomain) -> CredentialResolver:
    return CredentialResolver(iam, sts)


@pytest.fixture
def admin(iam: IamDomain, resolver: CredentialResolver) -> Principal:
    akid, _ = iam.bootstrap_admin("111122223333")
    principal = resolver(akid, None).principal
    assert isinstance(principal, Principal)
    return principal
