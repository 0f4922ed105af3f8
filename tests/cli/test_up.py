"""`podid up` / `down` / `status` as subprocesses: background service, idempotence, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import podid as run_podid

pytestmark = pytest.mark.e2e


def podid(state_dir: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return run_podid(state_dir, *args, timeout=timeout)


def descendants(root: int) -> set[int]:
    """Every process below `root` (by parent pid), found in /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def netns_names(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def link_names(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if prefix in line]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    yield state
    podid(state, "down")  # never leave a service behind, whatever the test did


def test_up_is_idempotent_and_down_leaves_nothing(state_dir: Path) -> None:
    first = podid(state_dir, "up", "--port", "0", "--account-id", "111122223333")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("podid is running (pid ")
    pid = int((state_dir / "podid.pid").read_text())
    endpoint = json.loads((state_dir / "endpoint.json").read_text())
    assert endpoint["pid"] == pid
    assert (state_dir / "admin.json").exists()

    again = podid(state_dir, "up", "--port", "0")
    assert again.returncode == 0
    assert again.stdout.startswith(
        f"podid is already running (pid {pid}) on http://127.0.0.1:{endpoint['port']}"
    )
    assert int((state_dir / "podid.pid").read_text()) == pid

    # give it something to run: a cluster with a node and the agent (pods as processes)
    import boto3

    admin = json.loads((state_dir / "admin.json").read_text())
    session = boto3.session.Session(
        aws_access_key_id=admin["access_key_id"],
        aws_secret_access_key=admin["secret_access_key"],
        region_name="us-west-2",
    )
    url = f"http://127.0.0.1:{endpoint['port']}"
    iam = session.client("iam", endpoint_url=url)
    eks = session.client("eks", endpoint_url=url)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="node", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="node", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
    eks.create_cluster(name="c", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    eks.create_nodegroup(
        clusterName="c",
        nodegroupName="ng",
        nodeRole=role,
        subnets=["subnet-1"],
        scalingConfig={"minSize": 1, "maxSize": 1, "desiredSize": 1},
    )
    eks.create_addon(clusterName="c", addonName="eks-pod-identity-agent")
    deadline = time.monotonic() + 90
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = podid(state_dir, "status", "-o", "json")
        report = json.loads(out.stdout)
        clusters = report.get("clusters") or []
        if clusters and clusters[0].get("agents") == 1:
            break
        time.sleep(0.2)
    assert report["running"] is True
    assert report["healthy"] is True
    assert report["pid"] == pid
    (cluster,) = report["clusters"]
    addresses = cluster.pop("nodeAddresses")
    assert cluster == {
        "name": "c",
        "region": "us-west-2",
        "nodes": 1,
        "readyNodes": 1,
        "pods": {"Running": 1},
        "agents": 1,
    }
    assert len(addresses) == 1
    assert addresses[0].startswith(("169.254.", "127."))
    assert report["log"] == str(state_dir / "podid.log")
    text = podid(state_dir, "status")
    assert text.returncode == 0
    assert f"podid is running (pid {pid}, podid up), healthy" in text.stdout

    children = descendants(pid)
    assert children, "the service runs node agents and pods as processes"
    from podid.kube.netns import can_use_netns, prefix_for

    prefix = prefix_for(state_dir)
    if can_use_netns():
        assert netns_names(prefix)

    down = podid(state_dir, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout == f"podid stopped (pid {pid})\n"
    assert not alive(pid)
    assert [p for p in children if alive(p)] == []
    assert not (state_dir / "podid.pid").exists()
    assert not (state_dir / "endpoint.json").exists()
    assert netns_names(prefix) == []
    assert link_names(prefix) == []

    stopped = podid(state_dir, "status")
    assert stopped.returncode == 3
    assert "podid is not running" in stopped.stdout
    assert podid(state_dir, "down").stdout.startswith("podid is not running")


def test_up_fails_with_the_log_tail_when_the_port_is_taken(state_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        out = podid(state_dir, "up", "--port", str(port))
    assert out.returncode == 1
    assert "podid exited with status 1 while starting; the end of" in out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert not (state_dir / "podid.pid").exists()


def test_up_foreground_stops_on_ctrl_c(state_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    env["PODID_STATE_DIR"] = str(state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "podid", "up", "--foreground", "--port", "0", "--no-runtime"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (state_dir / "endpoint.json").exists():
            time.sleep(0.05)
        assert (state_dir / "endpoint.json").exists()
        assert int((state_dir / "podid.pid").read_text()) == proc.pid
        status = podid(state_dir, "status", "-o", "json")
        report = json.loads(status.stdout)
        assert (report["healthy"], report["pid"], report["startedBy"]) == (True, proc.pid, "podid up")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (state_dir / "podid.pid").exists()
    assert not (state_dir / "endpoint.json").exists()


def test_status_sees_a_podid_serve_started_by_hand(state_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    env["PODID_STATE_DIR"] = str(state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "podid", "serve", "--port", "0", "--no-runtime"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (state_dir / "endpoint.json").exists():
            time.sleep(0.05)
        out = podid(state_dir, "status", "-o", "json")
        report = json.loads(out.stdout)
        assert out.returncode == 0
        assert (report["pid"], report["startedBy"], report["healthy"]) == (proc.pid, "podid serve", True)
        assert "log" not in report
        # `down` stops only what `up` started
        assert podid(state_dir, "down").stdout.startswith("podid is not running")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert podid(state_dir, "status").returncode == 3
