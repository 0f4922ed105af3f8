"""The local cluster runtime that `podid serve` runs: one `ClusterRuntime` per EKS cluster.

    runtime = LocalRuntime(store, clock, eks, sts, authorize, state_dir, endpoint_url, add_listener)
    await runtime.start()      # restore clusters and pods from the store, follow EKS changes
    app = runtime.api_app()    # the kube API for `podid kubectl` (mounted at /_podid/kube/)
    await runtime.stop()       # stop every pod process and agent, remove namespaces and links

Clusters follow the EKS domain: created (by the EKS API, eksctl or CloudFormation) -> a local
cluster with nodes; node group scaled or deleted -> nodes follow; add-on `eks-pod-identity-agent`
added or removed -> its DaemonSet follows; cluster deleted -> it leaves `clusters` at once, and
its processes stop and its objects are dropped in a teardown task (`terminating()` until done;
`stop()` waits for it). The kube API answers after `settle()`: once the runtime has followed every
EKS change made before the request, so kubectl never shows a cluster the EKS API no longer has.
As root, nodes are network namespaces (`podid.kube.netns`), whose names derive from
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
STOP_SYNC_WAIT_S = 5.0  # how long stop() lets a sync in progress finish before cancelling it
SETTLE_WAIT_S = 30.0  # the longest the kube API waits for the runtime to follow EKS


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
        # changes announced by EKS (`_requested`) and how many of them a finished sync has seen
        self._requested = 0
        self._synced = 0
        self._sync_done = asyncio.Condition()
        self._closing = False
        # clusters deleted in EKS whose processes are being stopped, by cluster key
        self._teardowns: dict[str, asyncio.Task[None]] = {}
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
        """Stop every pod process, node and agent; when it returns, all of them have been reaped.

        A sync in progress is let finish (it may be creating a node's network namespace, which a
        cancellation would leave behind), then every cluster, and every cluster still being torn
        down after its deletion, is stopped in parallel: each within its pods' grace period.
        """
        self._closing = True
        if self._sync_task is not None:
            self._sync_wanted.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._sync_task), STOP_SYNC_WAIT_S)
            except TimeoutError:
                self._sync_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sync_task
        clusters = list(self.clusters.values())
        self.clusters.clear()
        await asyncio.gather(*(c.stop() for c in clusters), *self._teardowns.values(), return_exceptions=True)
        if self._registered is not None:
            self._registered.unlink(missing_ok=True)  # nothing of ours is left to reap

    def api_app(self) -> web.Application:
        if not self._token:
            self._token = read_or_create_token(self.state_dir)
        return make_app(self, self._token)

    def closing(self) -> bool:
        return self._closing

    def terminating(self) -> list[str]:
        """Keys of the clusters deleted in EKS whose processes are still being stopped."""
        return [key for key, task in self._teardowns.items() if not task.done()]

    async def settle(self, timeout_s: float = SETTLE_WAIT_S) -> None:
        """Wait until the runtime has followed every EKS change announced before this call.

        The kube API answers after this, so that what `podid kubectl` sees follows what the EKS API
        already answered (a deleted cluster is gone, a created one is there), as one control plane.
        """
        target = self._requested
        if self._sync_task is None or self._sync_task.done() or self._synced >= target:
            return
        async with self._sync_done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sync_done.wait_for(lambda: self._synced >= target), timeout_s)

    def _on_change(self) -> None:
        self._requested += 1
        self._sync_wanted.set()

    async def _sync_loop(self) -> None:
        while not self._closing:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            if self.closing():  # woken by stop()
                break
            target = self._requested
            try:
                await self.sync()
            except Exception:
                log.exception("kube runtime: sync with EKS failed")
            self._synced = target
            async with self._sync_done:
                self._sync_done.notify_all()

    def _retire(self, key: str) -> None:
        """Drop a deleted cluster from view at once; its processes stop in a task of their own."""
        cluster = self.clusters.pop(key)
        task = asyncio.get_running_loop().create_task(cluster.stop(forget=True), name=f"teardown {key}")
        self._teardowns[key] = task

        def done(t: asyncio.Task[None]) -> None:
            if self._teardowns.get(key) is t:
                del self._teardowns[key]
            if not t.cancelled() and t.exception() is not None:
                log.error("kube runtime: teardown of %s failed: %s", key, t.exception())

        task.add_done_callback(done)

    async def _teardown_finished(self, key: str) -> None:
        """Before a cluster of the same key starts again: its objects are dropped by the teardown."""
        task = self._teardowns.get(key)
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def sync(self) -> None:
        """Bring local clusters in line with EKS: create, update nodes and add-ons, remove."""
        assert self._env is not None
        wanted = {c.key: c for c in self.source.clusters()}
        for key in [k for k in self.clusters if k not in wanted]:
            self._retire(key)
        for key, info in wanted.items():
            existing = self.clusters.get(key)
            if existing is not None and existing.info.created_at != info.created_at:
                # deleted and re-created under the same name while we were not looking
                self._retire(key)
                existing = None
            if existing is None:
                await self._teardown_finished(key)
                if self._closing:
                    return
                cluster = ClusterRuntime(info, self._env)
                self.clusters[key] = cluster
                await cluster.start()
            else:
                await existing.sync_nodes()
