"""`podid agent init` and the agent on its real addresses, inside network namespaces the tests own.

Root only (CI runs as root): each test creates `podid-test-<random>` namespaces and deletes them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from podid.clock import FakeClock
from tests.agent.agent_process import PODID, start_agent_process
from tests.agent.fake_eksauth import ACCOUNT, FakeEksAuth
from tests.agent.helpers import make_token
from tests.agent.netns import Netns, netns, veth_to_host

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]

LINK = "pod-id-link0"
AWS = str(Path(sys.executable).with_name("aws"))


def _addresses(ns: Netns) -> set[str]:
    found = set()
    for link in ns.ip_json("addr", "show", "dev", LINK):
        for info in link.get("addr_info", []):
            found.add(f"{info['local']}/{info['prefixlen']}")
    return found


def _route_devs(ns: Netns, family: str, dst: str) -> list[str]:
    return [str(r.get("dev")) for r in ns.ip_json(family, "route", "show", dst)]


def test_init_is_idempotent_and_sets_addresses_and_routes() -> None:
    with netns() as ns:
        for _ in range(2):
            done = ns.run(PODID, "agent", "init")
            assert "pod-id-link0" in done.stdout
            assert "IPv4, IPv6" in done.stdout
        link = ns.ip_json("-d", "link", "show", "dev", LINK)[0]
        assert link["linkinfo"]["info_kind"] in ("dummy", "bridge")
        assert "UP" in link["flags"]
        assert {"169.254.170.23/32", "fd00:ec2::23/128"} <= _addresses(ns)
        assert _route_devs(ns, "-4", "169.254.170.23/32") == [LINK]
        assert _route_devs(ns, "-6", "fd00:ec2::23/128") == [LINK]
        assert len(ns.ip_json("-4", "route", "show", "table", "main")) == 1  # no duplicate


def test_init_refuses_a_route_on_another_link() -> None:
    with netns() as ns:
        ns.run("ip", "link", "add", "other0", "type", "bridge")
        ns.run("ip", "link", "set", "other0", "up")
        ns.run("ip", "route", "add", "169.254.170.23/32", "dev", "other0")
        done = ns.run(PODID, "agent", "init", check=False)
        assert done.returncode == 1
        assert "expected route 169.254.170.23/32 to be interface index" in done.stderr
        assert "please remove route and try again" in done.stderr


def test_init_with_ipv6_disabled_configures_ipv4() -> None:
    with netns(disable_ipv6=True) as ns:
        done = ns.run(PODID, "agent", "init")
        assert "ready: IPv4" in done.stdout
        assert "IPv6" not in done.stdout.split("ready:")[1]
        assert "Unable to configure family IPv6" in done.stdout  # logged, not fatal
        assert _addresses(ns) == {"169.254.170.23/32"}
        assert _route_devs(ns, "-4", "169.254.170.23/32") == [LINK]


_FETCH = """
import json, sys
from botocore.credentials import ContainerProvider
env = {
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": sys.argv[1],
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": sys.argv[2],
}
creds = ContainerProvider(environ=env).load()
frozen = creds.get_frozen_credentials()
print(json.dumps({"key": frozen.access_key, "account": creds.account_id}))
"""


async def _fetch_in(ns: Netns, url: str, token_file: Path) -> dict[str, str]:
    proc = await asyncio.create_subprocess_exec(
        *ns.exec_args(sys.executable, "-c", _FETCH, url, str(token_file)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


@pytest.mark.e2e
async def test_agent_on_its_link_local_addresses(tmp_path: Path, clock: FakeClock) -> None:
    with netns() as ns, veth_to_host(ns) as host_addr:
        ns.run(PODID, "agent", "init")
        fake = await FakeEksAuth(host=host_addr).start()
        log_file = tmp_path / "agent.log"
        agent = None
        try:
            agent = await start_agent_process(
                fake.url,
                prefix=ns.exec_args(),
                host="169.254.170.23",
                port=80,
                extra_args=["--bind-hosts", "[fd00:ec2::23]"],
                log_file=log_file,
                ready_prefix=ns.exec_args(),
            )
            token_file = tmp_path / "token"
            token_file.write_text(make_token(clock.now()))
            v4 = await _fetch_in(ns, "http://169.254.170.23/v1/credentials", token_file)
            v6 = await _fetch_in(ns, "http://[fd00:ec2::23]/v1/credentials", token_file)
            assert v4 == v6 == {"key": "ASIAFAKE000000000001", "account": ACCOUNT}
            assert fake.calls == 1
            assert fake.bad_signatures == 0
        finally:
            if agent is not None:
                assert await agent.terminate() == 0
            await fake.stop()
        assert "IPv6 listener unavailable" not in log_file.read_text()


@pytest.mark.e2e
async def test_agent_with_ipv6_disabled_serves_ipv4(tmp_path: Path, clock: FakeClock) -> None:
    with netns(disable_ipv6=True) as ns, veth_to_host(ns) as host_addr:
        ns.run(PODID, "agent", "init")
        fake = await FakeEksAuth(host=host_addr).start()
        log_file = tmp_path / "agent.log"
        agent = None
        try:
            agent = await start_agent_process(
                fake.url,
                prefix=ns.exec_args(),
                host="169.254.170.23",
                port=80,
                extra_args=["--bind-hosts", "[fd00:ec2::23]"],
                log_file=log_file,
                ready_prefix=ns.exec_args(),
            )
            token_file = tmp_path / "token"
            token_file.write_text(make_token(clock.now()))
            v4 = await _fetch_in(ns, "http://169.254.170.23/v1/credentials", token_file)
            assert v4["key"] == "ASIAFAKE000000000001"
            assert agent.process.returncode is None
        finally:
            if agent is not None:
                assert await agent.terminate() == 0
            await fake.stop()
        warnings = [line for line in log_file.read_text().splitlines() if "IPv6 listener unavailable" in line]
        assert len(warnings) == 1
        assert "fd00:ec2::23" in warnings[0]


@pytest.mark.e2e
async def test_aws_cli_in_the_node_namespace_against_the_podid_endpoint(tmp_path: Path) -> None:
    """Inside the namespace, unmodified clients use exactly http://169.254.170.23/v1/credentials and
    http://[fd00:ec2::23]/v1/credentials; the agent reaches `podid serve` over a veth pair."""
    from podid.gateway.testing import running_endpoint
    from tests.agent.endpoint_world import ACCOUNT as WORLD_ACCOUNT
    from tests.agent.endpoint_world import CLUSTER, REGION, make_world, node_env, pod_token

    with netns() as ns, veth_to_host(ns) as host_addr:
        ns.run(PODID, "agent", "init")
        with running_endpoint(
            tmp_path / "state", account_id=WORLD_ACCOUNT, region=REGION, host=host_addr
        ) as ep:
            world = make_world(ep)
            agent = await start_agent_process(
                ep.url,
                prefix=ns.exec_args(),
                host="169.254.170.23",
                port=80,
                extra_args=["--bind-hosts", "[fd00:ec2::23]"],
                env=node_env(world["node"]),
                node_env=False,
                cluster=CLUSTER,
                ready_prefix=ns.exec_args(),
            )
            try:
                token_file = tmp_path / "token"
                token_file.write_text(pod_token(ep))
                env = {
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION"))
                }
                env.update(
                    {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file), "AWS_DEFAULT_REGION": REGION}
                )
                for url in ("http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials"):
                    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = url
                    proc = await asyncio.create_subprocess_exec(
                        *ns.exec_args(
                            AWS, "sts", "get-caller-identity", "--endpoint-url", ep.url, "--output", "json"
                        ),
                        env=env,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                    )
                    out, err = await asyncio.wait_for(proc.communicate(), 120)
                    assert proc.returncode == 0, err.decode()
                    arn = json.loads(out)["Arn"]
                    assert arn.startswith(f"arn:aws:sts::{WORLD_ACCOUNT}:assumed-role/demo-app-role/eks-"), (
                        url
                    )
            finally:
                assert await agent.terminate() == 0
