"""Test scaffolding for the local cluster runtime: a small control plane double and a live kube API.

`FakeControlPlane` plays the EKS domain's part (clusters, node groups, add-ons, associations) with a
real token issuer; `Served` runs a `LocalRuntime` whose kube API is mounted at /_podid/kube/ on a
real aiohttp server on 127.0.0.1 (an ephemeral port), with endpoint.json written into the state
directory, so `podid kubectl` runs against it as a subprocess exactly as a user runs it.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from tests.support.cli import kubectl

from podid.cli.common import EndpointInfo, write_endpoint
from podid.clock import Clock, SystemClock
from podid.kube.issuer import TokenIssuer, generate_signing_key
from podid.kube.pods import RunnerOptions
from podid.kube.ports import ClusterInfo, NodeCredentials, NodeCredentialSource, NodeGroupInfo
from podid.kube.runtime import LocalRuntime
from podid.store import Store

ACCOUNT = "111122223333"
REGION = "us-west-2"


@dataclass
class FakeControlPlane:
    clusters_: list[ClusterInfo] = field(default_factory=list)
    groups: dict[str, list[NodeGroupInfo]] = field(default_factory=dict)
    addons_: dict[str, set[str]] = field(default_factory=dict)
    associations: set[tuple[str, str, str]] = field(default_factory=set)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    issuer: TokenIssuer = field(
        default_factory=lambda: TokenIssuer(generate_signing_key(), "http://127.0.0.1:1/oidc/id/TEST")
    )
    issued: list[dict[str, Any]] = field(default_factory=list)

    def add_cluster(
        self, name: str, nodes: int = 2, addons: set[str] | None = None, age_s: int = 0
    ) -> ClusterInfo:
        info = ClusterInfo(
            ACCOUNT,
            REGION,
            name,
            datetime.now(UTC) - timedelta(seconds=age_s),
            arn=f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}",
        )
        self.clusters_.append(info)
        self.groups[name] = [NodeGroupInfo("ng-1", f"arn:aws:iam::{ACCOUNT}:role/node-role", nodes)]
        self.addons_[name] = set(addons or set())
        self.changed()
        return info

    def changed(self) -> None:
        for cb in self.listeners:
            cb()

    def clusters(self) -> list[ClusterInfo]:
        return list(self.clusters_)

    def node_groups(self, cluster: ClusterInfo) -> list[NodeGroupInfo]:
        return list(self.groups.get(cluster.name, []))

    def addons(self, cluster: ClusterInfo) -> set[str]:
        return set(self.addons_.get(cluster.name, set()))

    def has_association(self, cluster: ClusterInfo, namespace: str, service_account: str) -> bool:
        return (cluster.name, namespace, service_account) in self.associations

    def issue_token(
        self,
        cluster: ClusterInfo,
        namespace: str,
        service_account: str,
        *,
        audience: list[str],
        duration_s: int,
        pod_name: str | None,
        pod_uid: str | None,
        sa_uid: str | None,
        now: datetime,
    ) -> str:
        self.issued.append(
            {
                "namespace": namespace,
                "sa": service_account,
                "audience": audience,
                "duration": duration_s,
                "pod": pod_name,
                "now": now,
            }
        )
        return self.issuer.issue(
            namespace,
            service_account,
            audience=audience,
            duration_s=duration_s,
            pod_name=pod_name,
            pod_uid=pod_uid,
            sa_uid=sa_uid,
            now=now,
        )

    def subscribe(self, callback: Callable[[], None]) -> None:
        self.listeners.append(callback)


def fake_node_credentials(account: str, role_arn: str, session_name: str) -> NodeCredentials:
    return NodeCredentials(
        "ASIAFAKENODE", "secret", f"token-for-{session_name}", datetime.now(UTC) + timedelta(hours=6)
    )


@dataclass
class Served:
    runtime: LocalRuntime
    state_dir: Path
    runner: web.AppRunner
    port: int

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(self.state_dir, *args, input=input, timeout=timeout)

    async def akubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(self.kubectl, *args, input=input)

    async def stop(self) -> None:
        await self.runtime.stop()
        await self.runner.cleanup()


async def serve(
    state_dir: Path,
    plane: FakeControlPlane,
    *,
    network: Any = "loopback",
    backoff_s: float = 0.2,
    store: Store | None = None,
    clock: Clock | None = None,
    privileged: bool | None = None,
    credentials: NodeCredentialSource | None = None,
) -> Served:
    store = store if store is not None else Store(state_dir / "podid.db")
    root = web.Application()

    async def endpoint(request: web.Request) -> web.Response:
        return web.json_response({"endpoint": "podid test double", "host": request.host})

    root.router.add_get("/", endpoint)
    runner = web.AppRunner(root)

    async def add_listener(host: str) -> int:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    runtime = LocalRuntime(
        store,
        clock or SystemClock(),
        None,
        None,
        None,
        state_dir,
        "http://127.0.0.1:9",
        add_listener,
        source=plane,
        credentials=credentials or fake_node_credentials,
        network=network,
        options=RunnerOptions(
            backoff_initial_s=backoff_s, backoff_max_s=backoff_s * 4, privileged=privileged
        ),
    )
    root.add_subapp("/_podid/kube/", runtime.api_app())
    await runner.setup()
    port = await add_listener("127.0.0.1")
    runtime.endpoint_url = f"http://127.0.0.1:{port}"
    await runtime.start()
    write_endpoint(state_dir, EndpointInfo("127.0.0.1", port))
    return Served(runtime, state_dir, runner, port)


async def wait_for(predicate: Callable[[], bool], limit: float = 60.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
