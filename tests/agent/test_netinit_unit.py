"""`LinkInitializer` against a simulated `ip`: the dummy-link path and failure handling (no root)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

from podid.agent.netinit import InitError, LinkInitializer


class FakeIp:
    """Just enough of iproute2's JSON interface for the initializer."""

    def __init__(self, *, dummy: bool = True, ipv6: bool = True, ipv4_fails: bool = False) -> None:
        self.dummy, self.ipv6, self.ipv4_fails = dummy, ipv6, ipv4_fails
        self.links: dict[str, dict[str, Any]] = {"lo": {"ifindex": 1, "kind": "loopback"}}
        self.addrs: dict[str, list[tuple[str, int]]] = {}
        self.routes: list[dict[str, str]] = []
        self.commands: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(args)[1:]
        self.commands.append(argv)
        out, rc, err = "", 0, ""
        if argv[:4] == ["-j", "-d", "link", "show"]:
            link = self.links.get(argv[5])
            if link is None:
                rc, err = 1, f'Device "{argv[5]}" does not exist.'
            else:
                out = json.dumps([{"ifindex": link["ifindex"], "linkinfo": {"info_kind": link["kind"]}}])
        elif argv[:2] == ["link", "add"]:
            kind = argv[4]
            if kind == "dummy" and not self.dummy:
                rc, err = 2, "Error: Unknown device type."
            else:
                self.links[argv[2]] = {"ifindex": len(self.links) + 1, "kind": kind}
        elif argv[0] == "-j" and argv[2] == "addr":
            fam = 6 if argv[1] == "-6" else 4
            infos = [
                {"local": a, "prefixlen": p}
                for a, p in self.addrs.get(argv[5], [])
                if (":" in a) == (fam == 6)
            ]
            out = json.dumps([{"addr_info": infos}])
        elif argv[1:3] == ["addr", "add"]:
            if argv[0] == "-6" and not self.ipv6:
                rc, err = 2, "RTNETLINK answers: Permission denied"
            elif argv[0] == "-4" and self.ipv4_fails:
                rc, err = 2, "RTNETLINK answers: Operation not permitted"
            else:
                addr, prefix = argv[3].split("/")
                self.addrs.setdefault(argv[5], []).append((addr, int(prefix)))
        elif argv[:2] == ["link", "set"]:
            pass
        elif argv[0] == "-j" and argv[2] == "route":
            fam6 = argv[1] == "-6"
            out = json.dumps([r for r in self.routes if (":" in r["dst"]) == fam6])
        elif argv[1:3] == ["route", "add"]:
            self.routes.append({"dst": argv[3].split("/")[0], "dev": argv[5]})
        else:  # pragma: no cover - a command the initializer should not run
            raise AssertionError(argv)
        return subprocess.CompletedProcess(list(args), rc, out, err)


def test_dummy_link_when_the_kernel_has_them() -> None:
    ip = FakeIp()
    result = LinkInitializer(runner=ip).initialize()
    assert (result.link_kind, result.ipv4, result.ipv6) == ("dummy", True, True)
    assert ["link", "add", "pod-id-link0", "type", "bridge"] not in ip.commands
    assert ip.addrs["pod-id-link0"] == [("169.254.170.23", 32), ("fd00:ec2::23", 128)]
    assert ["-6", "addr", "add", "fd00:ec2::23/128", "dev", "pod-id-link0", "nodad"] in ip.commands
    assert {r["dst"] for r in ip.routes} == {"169.254.170.23", "fd00:ec2::23"}
    again = FakeIp()
    again.links, again.addrs, again.routes = ip.links, ip.addrs, ip.routes
    LinkInitializer(runner=again).initialize()
    assert not [c for c in again.commands if "add" in c]  # idempotent: nothing added the second time


def test_bridge_fallback_and_ipv6_failures_are_not_fatal() -> None:
    ip = FakeIp(dummy=False, ipv6=False)
    result = LinkInitializer(runner=ip).initialize()
    assert (result.link_kind, result.ipv4, result.ipv6) == ("bridge", True, False)
    assert result.warnings == [
        "Unable to configure family IPv6: ip -6 addr add fd00:ec2::23/128 dev pod-id-link0 nodad: "
        "RTNETLINK answers: Permission denied"
    ]


def test_ipv4_failures_are_fatal() -> None:
    with pytest.raises(InitError, match="Stopping execution, unable to configure required family IPv4"):
        LinkInitializer(runner=FakeIp(ipv4_fails=True)).initialize()
