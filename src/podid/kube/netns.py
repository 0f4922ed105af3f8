"""Nodes of a local cluster as Linux network namespaces (when podid runs as root).

On EKS the Pod Identity agent listens on the node's link-local addresses `169.254.170.23:80` and
`[fd00:ec2::23]:80`, and pods reach it there. To give pods exactly EKS's
`AWS_CONTAINER_CREDENTIALS_FULL_URI`, each node of a local cluster is a network namespace:

- a `pod-identity` link inside it carries 169.254.170.23/32 and fd00:ec2::23/128 (a bridge-type
  link: the `dummy` driver is not available everywhere; a bridge without ports works the same for
  local addresses). IPv6 failing (e.g. disabled) is logged and not fatal: `ipv6` says which;
- a veth pair joins it to the host: `host_address` on the host side, `node_address` inside, both
  from one /30 of the link-local range 169.254.0.0/16 (never a private or public range). The /30's
  connected route is the node's only route out: it reaches whatever listens on `host_address` (the
  podid endpoint must listen there too) and nothing else, so no pod traffic can be forwarded off
  the machine even where the host forwards packets;
- loopback is up (local delivery to 169.254.170.23 goes through it).

Names derive from a hash of the state directory (the `prefix`, "pd" + 6 hex) and of the cluster and
node names, so two podid instances never collide, and a crashed instance's leftovers can be found
and removed at the next start with `cleanup_leftovers(prefix)`.

Address allocation: the /30 is chosen by hashing (state directory, cluster, node) over the usable
blocks of 169.254.0.0/16 — skipping 169.254.0.0/24 and 169.254.255.0/24 (reserved by RFC 3927),
169.254.169.0/24 (EC2's instance metadata, DNS and time services) and 169.254.170.0/24 (the
container-credentials addresses) — then probing forward past blocks that overlap any IPv4 address
already configured on the host. `host_address` and `node_address` are final after `create()`.

Processes run inside a node with `exec_prefix()` (`nsenter --net=...`, which switches only the
network namespace, unlike `ip netns exec`, which also makes a new mount namespace).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

NETNS_DIR = Path("/var/run/netns")
# Serializes "find a free /30, then take it" across threads and podid instances on this host.
ALLOCATION_LOCK = Path("/run/podid-netns.lock")
AGENT_IPV4 = "169.254.170.23"
AGENT_IPV6 = "fd00:ec2::23"
POD_IDENTITY_LINK = "pod-identity"
NODE_LINK = "eth0"

LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")
EXCLUDED = (
    ipaddress.IPv4Network("169.254.0.0/24"),
    ipaddress.IPv4Network("169.254.169.0/24"),
    ipaddress.IPv4Network("169.254.170.0/24"),
    ipaddress.IPv4Network("169.254.255.0/24"),
)
_BLOCKS = 1 << 14  # /30 blocks in a /16


class NetnsError(Exception):
    """An `ip` command failed; the message carries the command and its stderr."""


def prefix_for(state_dir: str | os.PathLike[str]) -> str:
    """The name prefix of one podid instance: "pd" + 6 hex of its resolved state directory."""
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()
    return "pd" + digest[:6]


def _usable(block: ipaddress.IPv4Network) -> bool:
    return not any(block.overlaps(excluded) for excluded in EXCLUDED)


def allocate_block(seed: bytes, in_use: Iterable[ipaddress.IPv4Interface]) -> ipaddress.IPv4Network:
    """The /30 for a node: start where `seed` hashes to, skip excluded and occupied blocks."""
    occupied = list(in_use)
    start = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % _BLOCKS
    base = int(LINK_LOCAL.network_address)
    for step in range(_BLOCKS):
        index = (start + step) % _BLOCKS
        block = ipaddress.IPv4Network((base + index * 4, 30))
        if not _usable(block):
            continue
        if any(block.overlaps(iface.network) or iface.ip in block for iface in occupied):
            continue
        return block
    raise NetnsError("no free /30 left in 169.254.0.0/16")


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def host_ipv4_interfaces() -> list[ipaddress.IPv4Interface]:
    """Every IPv4 address (with its prefix) configured in the current network namespace."""
    proc = _run(["ip", "-j", "-4", "addr", "show"])
    found: list[ipaddress.IPv4Interface] = []
    for link in json.loads(proc.stdout or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                found.append(ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}"))
    return found


def _netns_names() -> list[str]:
    proc = _run(["ip", "-j", "netns", "list"], check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    return [str(entry["name"]) for entry in json.loads(proc.stdout)]


def _link_names() -> list[str]:
    proc = _run(["ip", "-j", "link", "show"])
    return [str(link["ifname"]) for link in json.loads(proc.stdout or "[]")]


@contextlib.contextmanager
def _allocation_lock() -> Iterator[None]:
    fd = os.open(ALLOCATION_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class NodeNetwork:
    """One node's network namespace, its veth pair to the host and its pod-identity addresses."""

    def __init__(self, state_dir: str | os.PathLike[str], cluster: str, node: str) -> None:
        self.prefix = prefix_for(state_dir)
        resolved = str(Path(state_dir).resolve())
        self._seed = f"{resolved}\0{cluster}\0{node}".encode()
        node_hash = hashlib.sha256(self._seed).hexdigest()[:6]
        self.name = f"{self.prefix}-{node_hash}"
        self.host_link = f"{self.prefix}{node_hash}h"  # 15 characters: the kernel's IFNAMSIZ limit
        self.ipv6 = False
        self._set_block(allocate_block(self._seed, []))

    def _set_block(self, block: ipaddress.IPv4Network) -> None:
        self.block = block
        self.host_address = str(block.network_address + 1)
        self.node_address = str(block.network_address + 2)

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.name

    def exists(self) -> bool:
        return self.name in _netns_names()

    def create(self) -> None:
        """Create the namespace and its links; a half-made earlier attempt is removed first."""
        self.destroy()
        ns = ["ip", "-n", self.name]
        veth = [
            "ip",
            "link",
            "add",
            self.host_link,
            "type",
            "veth",
            "peer",
            "name",
            NODE_LINK,
            "netns",
            self.name,
        ]
        try:
            with _allocation_lock():
                self._set_block(allocate_block(self._seed, host_ipv4_interfaces()))
                _run(["ip", "netns", "add", self.name])
                _run(veth)
                _run(["ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_link])
            _run(["ip", "link", "set", self.host_link, "up"])
            _run([*ns, "link", "set", "lo", "up"])
            _run([*ns, "addr", "add", f"{self.node_address}/30", "dev", NODE_LINK])
            _run([*ns, "link", "set", NODE_LINK, "up"])
            _run([*ns, "link", "add", POD_IDENTITY_LINK, "type", "bridge"])
            _run([*ns, "addr", "add", f"{AGENT_IPV4}/32", "dev", POD_IDENTITY_LINK])
            _run([*ns, "link", "set", POD_IDENTITY_LINK, "up"])
        except NetnsError:
            self.destroy()
            raise
        v6 = _run(
            [*ns, "-6", "addr", "add", f"{AGENT_IPV6}/128", "dev", POD_IDENTITY_LINK, "nodad"], check=False
        )
        self.ipv6 = v6.returncode == 0
        if not self.ipv6:
            log.warning(
                "node %s: no IPv6 address %s (%s); IPv4 only", self.name, AGENT_IPV6, v6.stderr.strip()
            )

    def destroy(self) -> None:
        """Remove the veth pair and the namespace; nothing to remove is not an error."""
        # The host side first: a process still inside would keep the namespace (and the pair) alive.
        if self.host_link in _link_names():
            _run(["ip", "link", "del", self.host_link], check=False)
        if self.exists():
            _run(["ip", "netns", "del", self.name])

    def exec_prefix(self) -> list[str]:
        """Argv prefix that runs a command inside this node's network namespace."""
        return ["nsenter", f"--net={self.netns_path}", "--"]


def cleanup_leftovers(prefix: str) -> None:
    """Remove the namespaces and host links a crashed instance with this prefix left behind."""
    for link in _link_names():
        if link.startswith(prefix) and link != prefix:
            _run(["ip", "link", "del", link], check=False)
    for name in _netns_names():
        if name.startswith(prefix + "-"):
            _run(["ip", "netns", "del", name], check=False)


def can_use_netns() -> bool:
    """True when running as root with a working `ip netns` (checked by making and removing one)."""
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nsenter") is None:
        return False
    probe = f"pdprobe-{os.getpid()}"
    try:
        if _run(["ip", "netns", "add", probe], check=False).returncode != 0:
            return False
        return _run(["ip", "-n", probe, "link", "set", "lo", "up"], check=False).returncode == 0
    finally:
        _run(["ip", "netns", "del", probe], check=False)
