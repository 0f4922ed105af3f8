"""Network namespaces that tests create and always delete (root only); never the host's own network."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name

    def exec_args(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(*self.exec_args(*args), check=check)

    def ip_json(self, *args: str) -> list[dict[str, Any]]:
        out = run("ip", "-n", self.name, "-j", *args).stdout.strip()
        parsed = json.loads(out) if out else []
        assert isinstance(parsed, list)
        return parsed


@contextlib.contextmanager
def netns(disable_ipv6: bool = False) -> Iterator[Netns]:
    name = f"podid-test-{uuid.uuid4().hex[:10]}"
    run("ip", "netns", "add", name)
    try:
        ns = Netns(name)
        ns.run("ip", "link", "set", "lo", "up")
        if disable_ipv6:
            ns.run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
            ns.run("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1")
        yield ns
    finally:
        run("ip", "netns", "del", name, check=False)


@contextlib.contextmanager
def veth_to_host(ns: Netns) -> Iterator[str]:
    """A veth pair on a random /30 of 169.254.100-199.x: `.1` host side, `.2` inside `ns`. Yields `.1`.

    Deleting the namespace destroys both ends; the host end is also deleted here explicitly.
    """
    third, block = random.randrange(100, 200), random.randrange(0, 64) * 4
    host_addr, ns_addr = f"169.254.{third}.{block + 1}", f"169.254.{third}.{block + 2}"
    suffix = uuid.uuid4().hex[:6]
    host_if, ns_if = f"pidh{suffix}", f"pidn{suffix}"
    run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
    try:
        run("ip", "link", "set", ns_if, "netns", ns.name)
        run("ip", "addr", "add", f"{host_addr}/30", "dev", host_if)
        run("ip", "link", "set", host_if, "up")
        ns.run("ip", "addr", "add", f"{ns_addr}/30", "dev", ns_if)
        ns.run("ip", "link", "set", ns_if, "up")
        yield host_addr
    finally:
        run("ip", "link", "del", host_if, check=False)
