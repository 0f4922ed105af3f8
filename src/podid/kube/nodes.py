"""Nodes of a local cluster: where a node's pods and agent run, and the node's role credentials.

A node is either a network namespace (root: `podid.kube.netns.NodeNetwork`; its agent listens on
exactly 169.254.170.23:80 and [fd00:ec2::23]:80, its pods share the namespace, and it reaches the
podid endpoint at the veth's host address) or, without root, a loopback address of its own
(127.0.x.y): its agent listens there on a free port and the runtime points the node's pods at it.

The node's credentials are obtained as EC2 obtains an instance profile's: AssumeRole of the node
group's role by `ec2.amazonaws.com`, session name = the instance id (`i-` + 17 hex digits), and
are written to a shared credentials file that the node's agent reads (`--rotate-credentials`
reloads it every minute); they are refreshed when a third of their lifetime is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from podid.clock import Clock
from podid.kube import nsnet
from podid.kube.ports import NodeCredentials, NodeNet
from podid.kube.volumes import write_file

log = logging.getLogger(__name__)

AGENT_PORT = 80
AGENT_PROBE_PORT = 2703
AGENT_METRICS_PORT = 2705


def instance_id(seed: str) -> str:
    return "i-" + hashlib.sha256(seed.encode()).hexdigest()[:17]


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def node_name(address: str, region: str) -> str:
    """EKS's node naming: `ip-169-254-3-2.us-west-2.compute.internal`."""
    suffix = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{address.replace('.', '-')}.{suffix}"


class Node:
    """One node: its address, network, agent ports and credentials file."""

    def __init__(
        self,
        *,
        name: str,
        instance: str,
        nodegroup: str,
        role_arn: str,
        account: str,
        region: str,
        address: str,
        directory: Path,
        clock: Clock,
        credentials: Callable[[str, str, str], NodeCredentials],
        network: NodeNet | None,
        endpoint_url: str,
        privileged: bool | None = None,
    ) -> None:
        self.name = name
        self.instance_id = instance
        self.nodegroup = nodegroup
        self.role_arn = role_arn
        self.account = account
        self.region = region
        self.network = network
        self.root = network is not None or (os.geteuid() == 0 if privileged is None else privileged)
        self.address = network.node_address if network is not None else address
        self.netns_path: str | None = f"/run/netns/{network.name}" if network is not None else None
        self.dir = directory
        self._clock = clock
        self._credentials = credentials
        self._endpoint_url = endpoint_url
        self.has_agent = False
        self._agent_ready = asyncio.Event()
        self._credentials_ready = asyncio.Event()
        self._refresh_task: asyncio.Task[None] | None = None
        if network is None:
            self.agent_port = free_port(self.address)
            self.agent_probe_port = free_port("127.0.0.1")
            self.agent_metrics_port = free_port("127.0.0.1")
        else:
            self.agent_port, self.agent_probe_port, self.agent_metrics_port = (
                AGENT_PORT,
                AGENT_PROBE_PORT,
                AGENT_METRICS_PORT,
            )
        self.credentials_error: str | None = None

    # NodeHandle -----------------------------------------------------------------------------------
    def netns_prefix(self) -> list[str]:
        return self.network.exec_prefix() if self.network is not None else []

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url

    @property
    def agent_url(self) -> str | None:
        """Where the agent really listens, when that is not the link-local address (no netns)."""
        return None if self.network is not None else f"http://{self.address}:{self.agent_port}"

    def agent_args(self, argv: list[str]) -> list[str]:
        """The agent pod's argv with this node's specifics: its endpoint, and ports without netns."""
        out = list(argv)
        if self.network is None:
            overrides = {
                "--port": self.agent_port,
                "--probe-port": self.agent_probe_port,
                "--metrics-port": self.agent_metrics_port,
            }
            for flag, value in overrides.items():
                if flag in out and out.index(flag) + 1 < len(out):
                    out[out.index(flag) + 1] = str(value)
                else:
                    out += [flag, str(value)]
            out += ["--bind-hosts", self.address, "--metrics-address", "127.0.0.1"]
        out += ["--endpoint", self.endpoint_url]
        return out

    def agent_env(self) -> dict[str, str]:
        return {
            "AWS_SHARED_CREDENTIALS_FILE": str(self.dir / "credentials"),
            "AWS_CONFIG_FILE": str(self.dir / "config"),
        }

    def probe_port(self, port: int) -> int:
        if self.network is None:
            return {AGENT_PROBE_PORT: self.agent_probe_port, AGENT_METRICS_PORT: self.agent_metrics_port}.get(
                port, port
            )
        return port

    async def wait_agent_ready(self) -> None:
        """Until this node's agent is ready; at once when the cluster has no agent (or loses it)."""
        while self.has_agent and not self._agent_ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._agent_ready.wait(), 1.0)

    async def wait_credentials(self) -> None:
        """Until the node's role credentials are on disk (an instance has its profile from boot)."""
        await self._credentials_ready.wait()

    def set_agent_ready(self, ready: bool) -> None:
        if ready:
            self._agent_ready.set()
        else:
            self._agent_ready.clear()

    @property
    def agent_ready(self) -> bool:
        return self._agent_ready.is_set()

    async def evict(self, pod_uid: str) -> None:
        """Tell this node's agent to forget a deleted pod's credentials."""
        if not self.has_agent:
            return
        with contextlib.suppress(OSError):
            await nsnet.request(
                self.netns_path,
                "POST",
                "127.0.0.1",
                self.agent_probe_port,
                f"/podid/v1/evict?pod-uid={pod_uid}",
                timeout=1.0,
            )

    # credentials ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        write_file(self.dir / "config", f"[default]\nregion = {self.region}\n".encode(), 0o600)
        self._refresh_task = asyncio.get_running_loop().create_task(self._refresh_credentials())

    async def stop(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
        if self.network is not None:
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(None, self.network.destroy)

    def write_credentials(self) -> datetime:
        creds = self._credentials(self.account, self.role_arn, self.instance_id)
        text = (
            "[default]\n"
            f"aws_access_key_id = {creds.access_key_id}\n"
            f"aws_secret_access_key = {creds.secret_access_key}\n"
            f"aws_session_token = {creds.session_token}\n"
        )
        write_file(self.dir / "credentials", text.encode(), 0o600)
        return creds.expiration

    async def _refresh_credentials(self) -> None:
        while True:
            try:
                issued = self._clock.now()
                expiration = self.write_credentials()
                self.credentials_error = None
                self._credentials_ready.set()
                wait = max((expiration - issued).total_seconds() * 2 / 3, 5.0)
            except Exception as exc:  # the role may not exist yet or its trust policy may refuse EC2
                self.credentials_error = str(exc)
                log.warning("node %s: cannot obtain credentials for %s: %s", self.name, self.role_arn, exc)
                wait = 5.0
            await asyncio.sleep(wait)
