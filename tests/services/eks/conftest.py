"""Fixtures for EKS domain tests: an in-memory store, a fake clock, a minimal IAM role lookup."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from podid.clock import FakeClock
from podid.services.eks import Cluster, EksDomain
from podid.store import Store

ACCOUNT = "111122223333"
REGION = "us-west-2"
BASE_URL = "http://127.0.0.1:4566"


class Roles:
    """The IAM side EKS reads: which role ARNs exist."""

    def __init__(self) -> None:
        self.arns: set[str] = set()

    def add(self, name: str, account: str = ACCOUNT) -> str:
        arn = f"arn:aws:iam::{account}:role/{name}"
        self.arns.add(arn)
        return arn

    def role_from_arn(self, arn: str) -> object | None:
        return arn if arn in self.arns else None


def json_policy_validator(document: str) -> None:
    """Stands in for the policy engine in domain tests: JSON object with a Statement."""
    data = json.loads(document)
    if not isinstance(data, dict) or "Statement" not in data:
        raise ValueError("Policy document must contain a Statement")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))


@pytest.fixture
def roles() -> Roles:
    return Roles()


@pytest.fixture
def domain(clock: FakeClock, roles: Roles) -> EksDomain:
    return EksDomain(Store(), clock, roles, lambda: BASE_URL, validate_policy=json_policy_validator)


@pytest.fixture
def make_cluster(domain: EksDomain, roles: Roles) -> Callable[..., Cluster]:
    def make(name: str = "demo", **kw: object) -> Cluster:
        return domain.create_cluster(
            ACCOUNT,
            REGION,
            name,
            role_arn=roles.add("cluster-role"),
            version="1.28",
            **kw,  # type: ignore[arg-type]
        )

    return make
