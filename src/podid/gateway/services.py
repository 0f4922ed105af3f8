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
    runtime: Any = None
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
    from podid.services.eks import EksDomain, EksProvider
    from podid.services.eksauth import EksAuthDomain, EksAuthProvider
    from podid.services.iam import IamDomain, IamProvider
    from podid.services.iam.authorizer import Authorizer
    from podid.services.identity import CredentialResolver
    from podid.services.sts import StsDomain, StsProvider
    from podid.services.sts.oidc_keys import IssuerKeys, cluster_issuer_keys
    from podid.services.sts.webidentity import WebIdentity

    store, clock = endpoint.store, endpoint.clock
    iam = IamDomain(store, clock)
    sts = StsDomain(iam, clock, token_key)
    authorizer = Authorizer(iam)
    eks = EksDomain(store, clock, iam, lambda: endpoint.url)
    eks_auth = EksAuthDomain(eks, sts, authorizer.authorize, audit=endpoint.audit.record)
    built = BuiltServices(
        iam=iam,
        sts=sts,
        authorizer=authorizer,
        resolver=CredentialResolver(iam, sts),
        providers={
            "iam": IamProvider(iam),
            # AssumeRoleWithWebIdentity resolves this endpoint's own cluster issuers in-process.
            "sts": StsProvider(
                sts, authorizer.authorize, WebIdentity(sts, IssuerKeys(cluster_issuer_keys(eks)))
            ),
            "eks": EksProvider(eks),
            "eks-auth": EksAuthProvider(eks_auth),
        },
        eks=eks,
    )
    built.routes.append(_oidc_routes(eks))
    _add_s3(endpoint, built)
    _add_cloudformation(endpoint, built)
    if endpoint.config.runtime:
        _add_runtime(endpoint, built)
    return built


def _add_s3(endpoint: Endpoint, built: BuiltServices) -> None:
    """S3: object bytes under `<state dir>/s3` (a temporary directory, removed at stop, if ephemeral)."""
    import shutil
    import tempfile
    from pathlib import Path

    from podid.services.s3 import BlobStore, S3Domain, S3Provider

    if endpoint.config.ephemeral:
        data_dir = Path(tempfile.mkdtemp(prefix="podid-s3-"))

        async def remove() -> None:
            shutil.rmtree(data_dir, ignore_errors=True)

        built.stoppers.append(remove)
    else:
        data_dir = endpoint.config.state_dir / "s3"
    domain = S3Domain(endpoint.store, BlobStore(data_dir), endpoint.clock)
    built.providers["s3"] = S3Provider(domain, built.authorizer.authorize)


def _add_cloudformation(endpoint: Endpoint, built: BuiltServices) -> None:
    """CloudFormation: stacks provision through the IAM, EKS and S3 domains, as the caller."""
    from podid.services.cloudformation import build_cloudformation

    s3 = getattr(built.providers.get("s3"), "domain", None)
    built.providers["cloudformation"] = build_cloudformation(
        endpoint.store, endpoint.clock, built.authorizer.authorize, iam=built.iam, eks=built.eks, s3=s3
    )


def _oidc_routes(eks: Any) -> RouteHook:
    """The clusters' OIDC discovery documents and JWKS, served without authentication."""
    from aiohttp import web

    from podid.services.eks import oidc_document

    async def handler(request: web.Request) -> web.Response:
        found = oidc_document(eks, request.path)
        if found is None:
            raise web.HTTPNotFound()
        status, body = found
        return web.json_response(body, status=status)

    def hook(app: web.Application) -> None:
        app.router.add_get("/oidc/{tail:.*}", handler)

    return hook


def _add_runtime(endpoint: Endpoint, built: BuiltServices) -> None:
    """The local cluster runtime: nodes, agents and pods as processes, and the kube API for kubectl."""
    from aiohttp import web

    from podid.kube.runtime import LocalRuntime

    runtime = LocalRuntime(
        endpoint.store,
        endpoint.clock,
        built.eks,
        built.sts,
        built.authorizer.authorize,
        endpoint.config.state_dir,
        endpoint.url,
        endpoint.add_listener,
    )
    built.runtime = runtime

    def hook(app: web.Application) -> None:
        app.add_subapp("/_podid/kube/", runtime.api_app())

    async def start() -> None:
        runtime.endpoint_url = endpoint.url  # the port is known only once the endpoint listens
        await runtime.start()

    built.routes.append(hook)
    built.starters.append(start)
    built.stoppers.append(runtime.stop)
