"""The local cluster runtime that `podid serve` runs: one `ClusterRuntime` per EKS cluster.

    runtime = LocalRuntime(store, clock, eks, sts, authorize, state_dir, endpoint_url, add_listener)
    await runtime.start()      # restore clusters and pods from the store, follow EKS changes
    app = runtime.api_app()    # the kube API for `podid kubectl` (mounted at /_podid/kube/)
    await runtime.stop()       # stop every pod process and agent, remove namespaces and links

Clusters follow the EKS domain: created (by the EKS API, eksctl or CloudFormation) -> a local
cluster with nodes; node group scaled or deleted -> nodes follow; add-on `eks-pod-identity-agent`
added or removed -> its DaemonSet follows; cluster deleted -> its processes stop and its objects
are dropped. As root, nodes are network namespaces (`podid.kube.netns`), whose names derive from
the state directory; leftovers of a crashed run are removed at start. Without root (or with
`network="loopback"`), nodes are loopback addresses (127.<a>.<b>.<c>), see `podid.kube.nodes`.

Pod files (volumes, logs) and node files (credentials) live under `<state dir>/run/`, private to
the user running podid: a container running as another uid reaches its volumes through bind
mounts in its own mount namespace, never through that directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from podid.clock import Clock
from podid.kube.adapters import Authorize, EksClusterSource, StsNodeCredentials
from podid.kube.api import make_app
from podid.kube.cluster import ClusterRuntime, RuntimeEnv
from podid.kube.leftovers import kill_leftovers
from podid.kube.pods import RunnerOptions
from podid.kube.ports import ClusterSource, NetworkFactory, NodeCredentialSource, NodeNet
from podid.store import Store

log = logging.getLogger(__name__)

TOKEN_FILE = "kube-token"


# which state directory each namespace prefix belongs to (a tmpfs: one boot's worth)
REGISTRY = Path("/run/podid/instances")


def register(registry: Path, prefix: str, state_dir: Path) -> None:
    registry.mkdir(parents=True, exist_ok=True)
    (registry / prefix).write_text(str(state_dir.resolve()))


def reap_orphans(registry: Path, cleanup: Callable[[str], None]) -> list[str]:
    """Remove the namespaces and links of instances whose state directory no longer exists.

    A crashed instance's leftovers are removed at its next start; an instance whose state directory
    was deleted (a test's temporary directory, `podid demo`'s) never starts again, so any start
    removes them. A live instance always has its state directory, so it is never touched.
    """
    reaped: list[str] = []
    if not registry.is_dir():
        return reaped
    for entry in registry.iterdir():
        try:
            owner = Path(entry.read_text().strip())
        except OSError:
            continue
        if not owner.exists():
            cleanup(entry.name)
            entry.unlink(missing_ok=True)
            reaped.append(entry.name)
    return reaped


def read_or_create_token(state_dir: Path) -> str:
    """The bearer token of the kube API, in `<state dir>/kube-token` (mode 0600)."""
    path = state_dir / TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


class LocalRuntime:
    """Every local cluster of one podid instance."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        eks: Any,
        sts: Any,
        authorize: Authorize | None,
        state_dir: Path,
        endpoint_url: str,
        add_listener: Callable[[str], Awaitable[int]] | None = None,
        *,
        source: ClusterSource | None = None,
        credentials: NodeCredentialSource | None = None,
        network: Literal["auto", "netns", "loopback"] = "auto",
        options: RunnerOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.state_dir = Path(state_dir)
        self.endpoint_url = endpoint_url
        self._add_listener = add_listener
        self.source: ClusterSource = source if source is not None else EksClusterSource(eks)
        if credentials is None:
            if sts is None or authorize is None:
                raise ValueError("LocalRuntime needs sts and authorize (or credentials=)")
            credentials = StsNodeCredentials(sts, authorize)
        self.credentials: NodeCredentialSource = credentials
        self.network_mode = network
        self.options = options or RunnerOptions()
        self.rng = rng or random.Random()
        self.clusters: dict[str, ClusterRuntime] = {}
        self._listeners: dict[str, int] = {}
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_wanted = asyncio.Event()
        self._loopback_used: dict[str, str] = {}
        self._token = ""
        self._env: RuntimeEnv | None = None
        self._registered: Path | None = None

    # ---------------------------------------------------------------------------------------------
    def _network_factory(self) -> NetworkFactory | None:
        if self.network_mode == "loopback":
            return None
        from podid.kube import netns

        usable = netns.can_use_netns()
        if self.network_mode == "netns" and not usable:
            raise RuntimeError("network namespaces need root and iproute2 (`ip netns`)")
        if not usable:
            log.info("no network namespaces (not root): nodes use loopback addresses")
            return None
        prefix = netns.prefix_for(self.state_dir)
        netns.cleanup_leftovers(prefix)
        reap_orphans(REGISTRY, netns.cleanup_leftovers)
        register(REGISTRY, prefix, self.state_dir)
        self._registered = REGISTRY / prefix
        state_dir = self.state_dir

        def factory(cluster_key: str, node_id: str) -> NodeNet:
            return netns.NodeNetwork(state_dir, cluster_key, node_id)

        return factory

    async def _node_endpoint(self, host: str) -> str:
        """The endpoint URL as reached from a node whose veth host side is `host`."""
        if self._add_listener is None:
            raise RuntimeError(
                "nodes in network namespaces need add_listener (the endpoint must listen there)"
            )
        port = self._listeners.get(host)
        if port is None:
            port = await self._add_listener(host)
            self._listeners[host] = port
        return f"http://{host}:{port}"

    def _loopback_address(self, unique: str) -> str:
        if unique in self._loopback_used:
            return self._loopback_used[unique]
        digest = hashlib.sha256(f"{self.state_dir}\0{unique}".encode()).digest()
        taken = set(self._loopback_used.values())
        for i in range(256):
            b = digest[(i % 16) + 1] ^ i
            address = f"127.{100 + digest[0] % 100}.{b}.{2 + digest[(i % 8) + 17] % 250}"
            if address not in taken:
                self._loopback_used[unique] = address
                return address
        raise RuntimeError("no free loopback address")

    # ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._token = read_or_create_token(self.state_dir)
        run_dir = self.state_dir / "run"
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        os.chmod(run_dir, 0o700)
        left = kill_leftovers(run_dir)
        if left:
            log.warning("ended %d process group(s) left behind by a previous run", left)
        factory = await asyncio.get_running_loop().run_in_executor(None, self._network_factory)
        self._env = RuntimeEnv(
            store=self.store,
            clock=self.clock,
            source=self.source,
            credentials=self.credentials,
            run_dir=run_dir,
            endpoint_url=self.endpoint_url,
            network_factory=factory,
            node_endpoint=self._node_endpoint,
            loopback_address=self._loopback_address,
            rng=self.rng,
            options=self.options,
        )
        if os.geteuid() == 0:
            # the mount point under which containers see their secrets (an empty directory on the host)
            os.makedirs("/var/run/secrets", exist_ok=True)
        self.source.subscribe(self._on_change)
        await self.sync()
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop(), name="kube runtime sync")

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
        await asyncio.gather(*(c.stop() for c in self.clusters.values()), return_exceptions=True)
        self.clusters.clear()
        if self._registered is not None:
            self._registered.unlink(missing_ok=True)  # nothing of ours is left to reap

    def api_app(self) -> web.Application:
        if not self._token:
            self._token = read_or_create_token(self.state_dir)
        return make_app(self, self._token)

    def _on_change(self) -> None:
        self._sync_wanted.set()

    async def _sync_loop(self) -> None:
        while True:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            try:
                await self.sync()
            except Exception:
                log.exception("kube runtime: sync with EKS failed")

    async def sync(self) -> None:
        """Bring local clusters in line with EKS: create, update nodes and add-ons, remove."""
        assert self._env is not None
        wanted = {c.key: c for c in self.source.clusters()}
        for key in [k for k in self.clusters if k not in wanted]:
            cluster = self.clusters.pop(key)
            await cluster.stop(forget=True)
        for key, info in wanted.items():
            existing = self.clusters.get(key)
            if existing is not None and existing.info.created_at != info.created_at:
                # deleted and re-created under the same name while we were not looking
                await existing.stop(forget=True)
                existing = None
                self.clusters.pop(key, None)
            if existing is None:
                cluster = ClusterRuntime(info, self._env)
                self.clusters[key] = cluster
                await cluster.start()
            else:
                await existing.sync_nodes()
