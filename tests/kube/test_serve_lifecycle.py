"""`podid serve` with its runtime as a real process: SIGTERM stops everything, restarts bring pods back,
and a crash's leftovers (processes, namespaces, links) are removed at the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODID = str(Path(sys.executable).parent / "podid")
APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleeper
spec:
  replicas: 2
  selector:
    matchLabels: {app: sleeper}
  template:
    metadata:
      labels: {app: sleeper}
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sleep", "infinity"]
"""


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    out["AWS_EC2_METADATA_DISABLED"] = "true"
    return out


def start(state_dir: Path) -> subprocess.Popen[bytes]:
    log = open(state_dir.parent / "serve.log", "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        [PODID, "serve", "--state-dir", str(state_dir), "--port", "0"], env=env(), stdout=log, stderr=log
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (state_dir.parent / "serve.log").read_text()
        try:
            if json.loads((state_dir / "endpoint.json").read_text()).get("pid") == proc.pid:
                return proc
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("podid serve did not start")


def client(state_dir: Path, service: str) -> Any:
    info = json.loads((state_dir / "endpoint.json").read_text())
    admin = json.loads((state_dir / "admin.json").read_text())
    return boto3.session.Session().client(
        service,
        endpoint_url=f"http://{info['host']}:{info['port']}",
        region_name="us-west-2",
        aws_access_key_id=admin["access_key_id"],
        aws_secret_access_key=admin["secret_access_key"],
    )


def kubectl(state_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    e = env()
    e["PODID_STATE_DIR"] = str(state_dir)
    return subprocess.run(
        [PODID, "kubectl", *args], capture_output=True, text=True, env=e, input=input, timeout=60, check=False
    )


def running(state_dir: Path) -> dict[str, int]:
    """Ready pods of the sleeper Deployment -> their process ids."""
    out = kubectl(state_dir, "get", "pods", "-l", "app=sleeper", "-o", "json")
    if out.returncode != 0:
        return {}
    found = {}
    for pod in json.loads(out.stdout)["items"]:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if statuses and all(s.get("ready") for s in statuses) and "running" in statuses[0]["state"]:
            found[pod["metadata"]["name"]] = int(statuses[0]["containerID"].removeprefix("podid://"))
    return found


def wait(check: Any, what: str, limit: float = 90) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def namespaces_and_links(prefix: str) -> list[str]:
    text = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    text += subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    return [line for line in text.splitlines() if prefix in line]


def test_stop_restart_and_crash_recovery(tmp_path: Path) -> None:
    from podid.kube.netns import prefix_for

    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    prefix = prefix_for(state_dir)
    proc = start(state_dir)
    try:
        iam = client(state_dir, "iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(RoleName="node", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="node", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
        eks = client(state_dir, "eks")
        eks.create_cluster(name="c1", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
        eks.create_nodegroup(
            clusterName="c1",
            nodegroupName="ng",
            nodeRole=role,
            subnets=["subnet-1"],
            scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 2},
        )
        eks.create_addon(clusterName="c1", addonName="eks-pod-identity-agent")
        out = kubectl(state_dir, "apply", "-f", "-", input=APP)
        assert out.stdout == "deployment.apps/sleeper created\n", out.stderr
        first = wait(lambda: len(running(state_dir)) == 2 and running(state_dir), "two pods")
        if os.geteuid() == 0:
            assert namespaces_and_links(prefix)  # one namespace (and one host link) per node

        # SIGTERM: everything stops, within 10 s, nothing left behind
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)  # the runtime stops within 10 s; the rest is a loaded machine's slack
        assert not any(alive(pid) for pid in first.values())
        assert namespaces_and_links(prefix) == []

        # a restart brings the same pods back as new processes
        proc = start(state_dir)
        second = wait(lambda: set(running(state_dir)) == set(first) and running(state_dir), "pods back")
        assert set(second.values()).isdisjoint(first.values())

        # a crash leaves processes (and namespaces) behind; the next start removes them
        proc.kill()
        proc.wait(timeout=30)
        assert any(alive(pid) for pid in second.values())
        proc = start(state_dir)
        third = wait(lambda: set(running(state_dir)) == set(first) and running(state_dir), "pods back again")
        assert not any(alive(pid) for pid in second.values())
        assert set(third.values()).isdisjoint(second.values())
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert namespaces_and_links(prefix) == []
