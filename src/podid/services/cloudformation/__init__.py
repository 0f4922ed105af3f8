"""CloudFormation: templates, stacks and change sets, provisioning through the services' domains."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from podid.clock import Clock
from podid.services.base import AuthzCheck, Call
from podid.services.cloudformation.domain import CloudFormationDomain
from podid.services.cloudformation.provider import CloudFormationProvider
from podid.services.cloudformation.resources import build_handlers
from podid.store import Store


def build_cloudformation(
    store: Store,
    clock: Clock,
    authorize: Callable[[Call, Sequence[AuthzCheck]], None],
    *,
    iam: Any,
    eks: Any,
    s3: Any = None,
) -> CloudFormationProvider:
    """The provider over a domain whose resources act through `iam`, `eks` (and `s3`, if given)."""
    domain = CloudFormationDomain(store, clock, build_handlers(iam, eks, s3), authorize)
    return CloudFormationProvider(domain)


__all__ = ["CloudFormationDomain", "CloudFormationProvider", "build_cloudformation", "build_handlers"]
