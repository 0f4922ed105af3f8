"""Wiring the service domains and providers together for one endpoint.

This is the one place that knows every service: it builds the domains over the shared store, hands
each provider the public domain APIs it needs (never another provider), and collects the
unauthenticated routes (OIDC discovery) and the local runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podid.gateway.server import RouteHook
from podid.services.base import Provider

if TYPE_CHECKING:
    from podid.gateway.endpoint import Endpoint


@dataclass
class BuiltServices:
    iam: Any
    sts: Any
    authorizer: Any
    resolver: Any
    providers: dict[str, Provider]
    eks: Any = None
    routes: list[RouteHook] = field(default_factory=list)
    starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        for start in self.starters:
            await start()

    async def stop(self) -> None:
        for stop in reversed(self.stoppers):
            await stop()


def build_services(endpoint: Endpoint, token_key: bytes) -> BuiltServices:
    from podid.services.iam import IamDomain, IamProvider
    from podid.services.iam.authorizer import Authorizer
    from podid.services.identity import CredentialResolver
    from podid.services.sts import StsDomain, StsProvider

    store, clock = endpoint.store, endpoint.clock
    iam = IamDomain(store, clock)
    sts = StsDomain(iam, clock, token_key)
    authorizer = Authorizer(iam)
    built = BuiltServices(
        iam=iam,
        sts=sts,
        authorizer=authorizer,
        resolver=CredentialResolver(iam, sts),
        providers={"iam": IamProvider(iam), "sts": StsProvider(sts, authorizer.authorize)},
    )
    return built
