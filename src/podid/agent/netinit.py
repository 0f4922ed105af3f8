"""`podid agent init`: the link-local agent addresses on a link of their own (reference §3.1).

What the real agent's `initialize` does, with iproute2 (`ip`) instead of netlink:

1. a link `pod-id-link0` if absent: type `dummy`; where the kernel has no dummy links ("Unknown device
   type"), a `bridge` link with nothing attached, which carries local addresses just the same;
2. `169.254.170.23/32` and `fd00:ec2::23/128` on it unless an address on the link already covers
   them (the IPv6 address is added `nodad`, so it can be bound at once);
3. the link up;
4. a main-table route for each address with the link as device, unless one exists; an existing route
   for the address on another link is an error ("expected route ... to be interface index ...").

Idempotent. IPv6 failures (IPv6 disabled, no IPv6 stack) are logged and ignored; IPv4 failures are
fatal (`InitError`). Needs CAP_NET_ADMIN; run it in the network namespace it should change.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from podid.agent.config import IPV4_AGENT_ADDRESS, IPV6_AGENT_ADDRESS

log = logging.getLogger("podid.agent.init")

LINK_NAME = "pod-id-link0"

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class InitError(Exception):
    """A fatal initialisation failure (the IPv4 part, or the link itself)."""


@dataclass
class InitResult:
    link: str
    link_kind: str
    ipv4: bool = False
    ipv6: bool = False
    warnings: list[str] = field(default_factory=list)


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


class LinkInitializer:
    """Runs the steps above through `ip`; `runner` is injectable for unit tests."""

    def __init__(self, link: str = LINK_NAME, runner: Runner = _run) -> None:
        self.link = link
        self.runner = runner

    def _ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.runner(["ip", *args])

    def _ip_ok(self, *args: str) -> str:
        done = self._ip(*args)
        if done.returncode != 0:
            raise InitError(f"ip {' '.join(args)}: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def _ip_json(self, *args: str) -> list[dict[str, Any]]:
        out = self._ip_ok("-j", *args).strip()
        parsed = json.loads(out) if out else []
        return parsed if isinstance(parsed, list) else []

    def _link_info(self, name: str) -> dict[str, Any] | None:
        done = self._ip("-j", "-d", "link", "show", "dev", name)
        if done.returncode != 0:
            return None
        links = json.loads(done.stdout or "[]")
        return links[0] if links else None

    def ensure_link(self) -> tuple[int, str]:
        info = self._link_info(self.link)
        if info is None:
            log.info("link was not found, creating it", extra={"link": self.link})
            dummy = self._ip("link", "add", self.link, "type", "dummy")
            if dummy.returncode != 0:
                log.info(
                    "dummy links unavailable, using a bridge link with nothing attached",
                    extra={"link": self.link, "error": dummy.stderr.strip()},
                )
                self._ip_ok("link", "add", self.link, "type", "bridge")
            info = self._link_info(self.link)
            if info is None:
                raise InitError(f"unable to create interface {self.link}")
        kind = str(info.get("linkinfo", {}).get("info_kind", "unknown"))
        return int(info["ifindex"]), kind

    def _has_address(self, family: str, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        for link in self._ip_json(family, "addr", "show", "dev", self.link):
            for info in link.get("addr_info", []):
                net = ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False)
                if ip in net:
                    return True
        return False

    def ensure_address(self, family: str, address: str, prefix: int) -> None:
        if self._has_address(family, address):
            log.info("found IP on interface, continuing", extra={"ip": address, "link": self.link})
            return
        extra = ["nodad"] if family == "-6" else []
        self._ip_ok(family, "addr", "add", f"{address}/{prefix}", "dev", self.link, *extra)
        log.info("added IP to interface", extra={"ip": address, "link": self.link})

    def ensure_route(self, family: str, address: str, prefix: int, ifindex: int) -> None:
        wanted = ipaddress.ip_network(f"{address}/{prefix}")
        for route in self._ip_json(family, "route", "show", "table", "main"):
            dst = str(route.get("dst", ""))
            if dst in ("", "default"):
                continue
            try:
                net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/{prefix}", strict=False)
            except ValueError:
                continue
            if net != wanted:
                continue
            dev = str(route.get("dev", ""))
            info = self._link_info(dev) if dev else None
            existing = int(info["ifindex"]) if info else 0
            if existing != ifindex:
                raise InitError(
                    f"expected route {wanted} to be interface index {ifindex} but is {existing}, "
                    "please remove route and try again"
                )
            log.info("route already exists, skipping creation", extra={"dst": str(wanted)})
            return
        self._ip_ok(family, "route", "add", str(wanted), "dev", self.link)
        log.info("created route", extra={"dst": str(wanted), "link": self.link})

    def initialize(self) -> InitResult:
        ifindex, kind = self.ensure_link()
        result = InitResult(self.link, kind)
        families = (("-4", IPV4_AGENT_ADDRESS, 32), ("-6", IPV6_AGENT_ADDRESS, 128))
        usable: list[tuple[str, str, int]] = []
        for family, address, prefix in families:
            try:
                self.ensure_address(family, address, prefix)
                usable.append((family, address, prefix))
            except InitError as exc:
                self._fail(family, exc, result)
        self._ip_ok("link", "set", self.link, "up")
        for family, address, prefix in usable:
            try:
                self.ensure_route(family, address, prefix, ifindex)
                if family == "-4":
                    result.ipv4 = True
                else:
                    result.ipv6 = True
            except InitError as exc:
                self._fail(family, exc, result)
        return result

    def _fail(self, family: str, exc: InitError, result: InitResult) -> None:
        if family == "-4":
            raise InitError(f"Stopping execution, unable to configure required family IPv4: {exc}") from exc
        message = f"Unable to configure family IPv6: {exc}"
        log.error(message)
        result.warnings.append(message)
