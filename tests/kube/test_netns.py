"""Nodes as network namespaces (root only: this machine and CI run as root).

Each test builds nodes under a state directory of its own (so names never clash with a running
podid) and removes everything in `finally`, then checks `ip netns list` and `ip link` are clean.
"""

from __future__ import annotations

import ipaddress
import json
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from podid.kube.netns import (
    AGENT_IPV4,
    AGENT_IPV6,
    EXCLUDED,
    LINK_LOCAL,
    NodeNetwork,
    allocate_block,
    can_use_netns,
    cleanup_leftovers,
    prefix_for,
)

# Root-only (network namespaces); this machine and CI run as root. Non-root: -m "not root".
needs_root = pytest.mark.root

SERVER = r"""
import http.server, socket, socketserver, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("agent " + self.server.server_address[0]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    address_family = family
    def server_bind(self):  # no getfqdn(): no DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "agent", 80
s = S((sys.argv[1], 80), H)
print("ready", flush=True)
s.serve_forever()
"""

CLIENT = r"""
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
"""


class _NoLookupServer(ThreadingHTTPServer):
    def server_bind(self) -> None:  # HTTPServer's own calls getfqdn(): a DNS query
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "endpoint", int(self.server_address[1])


def _ip_state() -> tuple[str, str]:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return netns, links


def _assert_clean(prefix: str) -> None:
    netns, links = _ip_state()
    assert prefix not in netns
    assert prefix not in links


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state"
    cleanup_leftovers(prefix_for(tmp_path / "state"))


def test_allocation_stays_in_link_local_and_avoids_reserved_blocks() -> None:
    blocks = {allocate_block(f"seed-{i}".encode(), []) for i in range(3000)}
    assert len(blocks) > 2500  # spread by the hash
    for block in blocks:
        assert block.prefixlen == 30
        assert block.subnet_of(LINK_LOCAL)
        assert not any(block.overlaps(excluded) for excluded in EXCLUDED)
        assert not block.overlaps(ipaddress.IPv4Network("169.254.169.254/32"))


def test_allocation_skips_addresses_in_use() -> None:
    first = allocate_block(b"node-a", [])
    taken = ipaddress.IPv4Interface(f"{first.network_address + 1}/30")
    second = allocate_block(b"node-a", [taken])
    assert second != first
    assert not second.overlaps(first)
    # A wider network in use (e.g. a /16 route's address) blocks every /30 it covers.
    wide = ipaddress.IPv4Interface(f"{first.network_address + 2}/22")
    third = allocate_block(b"node-a", [wide])
    assert not third.overlaps(wide.network)


def test_names_are_per_state_directory_and_node(tmp_path: Path) -> None:
    a = NodeNetwork(tmp_path / "one", "demo", "node-1")
    b = NodeNetwork(tmp_path / "two", "demo", "node-1")
    c = NodeNetwork(tmp_path / "one", "demo", "node-2")
    assert a.prefix != b.prefix
    assert a.name != c.name
    assert a.name.startswith(a.prefix + "-")
    assert len(a.host_link) <= 15
    assert NodeNetwork(tmp_path / "one", "demo", "node-1").name == a.name


@needs_root
def test_can_use_netns_as_root() -> None:
    assert can_use_netns()
    netns, _ = _ip_state()
    assert "pdprobe" not in netns


@needs_root
def test_agent_address_inside_node_and_route_to_host(state_dir: Path) -> None:
    node = NodeNetwork(state_dir, "demo", "ip-192-168-1-10")
    agent: subprocess.Popen[str] | None = None
    agent6: subprocess.Popen[str] | None = None
    host_server: _NoLookupServer | None = None
    try:
        node.create()
        assert ipaddress.IPv4Address(node.host_address) in LINK_LOCAL
        assert ipaddress.IPv4Address(node.node_address) in LINK_LOCAL
        addrs = subprocess.run(
            ["ip", "-n", node.name, "-j", "addr", "show", "dev", "pod-identity"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        locals_ = {a["local"] for link in json.loads(addrs) for a in link["addr_info"]}
        assert AGENT_IPV4 in locals_
        assert node.ipv6 == (AGENT_IPV6 in locals_)
        # The node's only IPv4 route out is the veth's /30: nothing can be forwarded off the machine.
        routes = subprocess.run(
            ["ip", "-n", node.name, "-4", "route"], capture_output=True, text=True, check=True
        )
        assert routes.stdout.split("\n")[0].startswith(f"{node.block} dev eth0")
        assert "default" not in routes.stdout

        # A tiny HTTP server inside the node on exactly 169.254.170.23:80 ...
        agent = subprocess.Popen(
            [*node.exec_prefix(), sys.executable, "-c", SERVER, AGENT_IPV4], stdout=subprocess.PIPE, text=True
        )
        assert agent.stdout is not None
        assert agent.stdout.readline().strip() == "ready"
        # ... reached from another process in the same namespace, as a pod would.
        out = subprocess.run(
            [*node.exec_prefix(), sys.executable, "-c", CLIENT, f"http://{AGENT_IPV4}/v1/credentials"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
        assert out.strip() == f"agent {AGENT_IPV4}"
        # The agent address exists only inside the node, not on the host.
        host_addrs = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
        assert f" {AGENT_IPV4}/" not in host_addrs

        if node.ipv6:
            agent6 = subprocess.Popen(
                [*node.exec_prefix(), sys.executable, "-c", SERVER, AGENT_IPV6],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert agent6.stdout is not None
            assert agent6.stdout.readline().strip() == "ready"
            out6 = subprocess.run(
                [*node.exec_prefix(), sys.executable, "-c", CLIENT, f"http://[{AGENT_IPV6}]/v1/credentials"],
                capture_output=True, text=True, timeout=20, check=True,
            ).stdout  # fmt: skip
            assert out6.strip() == f"agent {AGENT_IPV6}"

        # The node reaches a server on the host side of its veth (where the endpoint listens).
        class Hello(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"endpoint"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        host_server = _NoLookupServer((node.host_address, 0), Hello)
        threading.Thread(target=host_server.serve_forever, daemon=True).start()
        url = f"http://{node.host_address}:{host_server.server_address[1]}/"
        out = subprocess.run(
            [*node.exec_prefix(), sys.executable, "-c", CLIENT, url],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
        assert out.strip() == "endpoint"
    finally:
        for proc in (agent, agent6):
            if proc is not None:
                proc.kill()
                proc.wait()
                if proc.stdout:
                    proc.stdout.close()
        if host_server is not None:
            host_server.shutdown()
            host_server.server_close()
        node.destroy()
    _assert_clean(node.prefix)
    node.destroy()  # idempotent


@needs_root
def test_two_nodes_get_distinct_blocks_and_collisions_are_probed(state_dir: Path) -> None:
    a = NodeNetwork(state_dir, "demo", "node-a")
    b = NodeNetwork(state_dir, "demo", "node-b")
    squatter = f"{a.prefix}sq"
    try:
        # Occupy b's preferred /30 on the host before b is created.
        preferred = b.block
        subprocess.run(
            ["ip", "link", "add", squatter, "type", "veth", "peer", "name", squatter + "p"], check=True
        )
        subprocess.run(
            ["ip", "addr", "add", f"{preferred.network_address + 1}/30", "dev", squatter], check=True
        )
        a.create()
        b.create()
        assert b.block != preferred
        assert not a.block.overlaps(b.block)
        assert a.exists()
        assert b.exists()
    finally:
        subprocess.run(["ip", "link", "del", squatter], check=False)
        a.destroy()
        b.destroy()
    _assert_clean(a.prefix)


@needs_root
def test_cleanup_leftovers_removes_a_crashed_instances_nodes(state_dir: Path) -> None:
    nodes = [NodeNetwork(state_dir, "demo", f"node-{i}") for i in range(2)]
    sleeper: subprocess.Popen[bytes] | None = None
    try:
        for node in nodes:
            node.create()
        # A process left running inside a node (as after a crash) must not keep anything behind.
        sleeper = subprocess.Popen([*nodes[0].exec_prefix(), "sleep", "60"])
        deadline = time.monotonic() + 60  # until `ip netns exec` has exec'd sleep inside the node
        while Path(f"/proc/{sleeper.pid}/comm").read_text().strip() != "sleep":
            assert time.monotonic() < deadline, "sleep never started in the node"
            time.sleep(0.05)
        netns, links = _ip_state()
        assert all(n.name in netns and n.host_link in links for n in nodes)
        cleanup_leftovers(nodes[0].prefix)
        _assert_clean(nodes[0].prefix)
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        for node in nodes:
            node.destroy()
    _assert_clean(nodes[0].prefix)


@needs_root
def test_concurrent_creations_get_distinct_blocks(state_dir: Path) -> None:
    # Same preferred block for all: the seed is what the block derives from, so force it.
    nodes = [NodeNetwork(state_dir, "demo", f"busy-{i}") for i in range(4)]
    for node in nodes:
        node._seed = b"same-seed-for-every-node"
    errors: list[BaseException] = []

    def create(node: NodeNetwork) -> None:
        try:
            node.create()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(node,)) for node in nodes]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        blocks = [node.block for node in nodes]
        assert len(set(blocks)) == len(blocks)
    finally:
        for node in nodes:
            node.destroy()
    _assert_clean(nodes[0].prefix)
