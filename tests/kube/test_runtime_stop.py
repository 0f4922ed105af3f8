"""The runtime under deletion and shutdown: what kubectl sees follows EKS, and stop leaves nothing behind.

The control plane is the double of tests/kube/harness.py; pods are real processes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.kube.harness import FakeControlPlane, Served, serve, wait_for

# a container that takes its time to stop: SIGTERM is handled after the current `sleep 0.1`
SLOW_TO_STOP = ["sh", "-c", "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.1; done"]


def pod(name: str, command: list[str], **container: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "main", "image": "busybox", "command": command, **container}],
            },
        }
    )


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pids(served: Served) -> dict[str, int]:
    found = {}
    for cluster in served.runtime.clusters.values():
        for p in cluster.objects.list("Pod", "default"):
            for status in (p.get("status") or {}).get("containerStatuses") or []:
                if "running" in (status.get("state") or {}) and status.get("containerID"):
                    found[p["metadata"]["name"]] = int(status["containerID"].removeprefix("podid://"))
    return found


def runtime_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the runtime's own classes still alive (none may be left when stop returns)."""
    out = []
    for task in asyncio.all_tasks():
        name = getattr(task.get_coro(), "__qualname__", "")
        if name.startswith(("PodRunner.", "ClusterRuntime.", "LocalRuntime.", "Node.")):
            out.append(task)
    return out


async def test_a_deleted_cluster_is_gone_for_kubectl_while_its_nodes_are_still_stopping(
    tmp_path: Path,
) -> None:
    plane = FakeControlPlane()
    plane.add_cluster("demo", nodes=1)
    served = await serve(tmp_path, plane)
    try:
        out = await served.akubectl("apply", "-f", "-", input=pod("slow", SLOW_TO_STOP))
        assert out.returncode == 0, out.stderr
        await wait_for(lambda: "slow" in pids(served), what="the pod's process")
        pid = pids(served)["slow"]
        cluster = next(iter(served.runtime.clusters.values()))

        # the node group goes: the runtime is busy stopping the pod (2 s) when the cluster goes too
        plane.groups["demo"] = []
        plane.changed()
        await wait_for(
            lambda: bool(
                (cluster.objects.get("Pod", "default", "slow") or {"metadata": {"deletionTimestamp": 1}})[
                    "metadata"
                ].get("deletionTimestamp")
            ),
            what="the pod terminating",
        )
        plane.clusters_ = []
        plane.changed()
        out = await served.akubectl("get", "nodes")
        assert out.returncode == 1
        assert out.stderr.startswith("error: no local cluster"), out.stderr
    finally:
        await served.stop()
    assert not alive(pid)
    assert runtime_tasks() == []


async def test_stop_right_after_a_cluster_deletion_reaps_every_process_and_task(tmp_path: Path) -> None:
    plane = FakeControlPlane()
    plane.add_cluster("demo", nodes=2)
    served = await serve(tmp_path, plane)
    try:
        probe = {"readinessProbe": {"exec": {"command": ["sleep", "0.3"]}, "periodSeconds": 1}}
        for name in ("a", "b", "c"):
            out = await served.akubectl("apply", "-f", "-", input=pod(name, SLOW_TO_STOP, **probe))
            assert out.returncode == 0, out.stderr
        await wait_for(lambda: len(pids(served)) == 3, what="three running pods")
        running = pids(served)
        # deleted in EKS, and the endpoint stops while the teardown is in its first steps
        plane.clusters_ = []
        plane.changed()
        await asyncio.sleep(0)
    finally:
        await served.stop()
    assert [name for name, p in running.items() if alive(p)] == []
    assert runtime_tasks() == []
    assert served.runtime.terminating() == []
