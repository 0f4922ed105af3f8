"""The local cluster runtime with real processes and `podid kubectl` as a subprocess (loopback nodes).

The control plane is a small double (tests/kube/harness.py); pods are real processes (`sleep`, `sh`),
the agent DaemonSet's pods are real `podid agent` processes, and kubectl is the real command.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest
from tests.kube.harness import FakeControlPlane, Served, serve, wait_for

from podid.clock import FakeClock
from podid.store import Store

NAME_CHARS = "[bcdfghjklmnpqrstvwxz2456789]"

APP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo-ns
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: demo-sa
  namespace: demo-ns
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: awscli-app
  name: awscli-app
  namespace: demo-ns
spec:
  replicas: 2
  selector:
    matchLabels:
      app: awscli-app
  template:
    metadata:
      labels:
        app: awscli-app
    spec:
      serviceAccountName: demo-sa
      containers:
      - name: aws-cli-app
        image: amazon/aws-cli:latest
        securityContext:
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          runAsUser: 1
        command: ["sleep", "infinity"]
"""


def pod_manifest(
    name: str,
    command: list[str],
    *,
    restart: str = "Always",
    namespace: str = "default",
    extra_spec: dict[str, Any] | None = None,
) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "restartPolicy": restart,
                "containers": [{"name": "main", "image": "busybox", "command": command}],
                **(extra_spec or {}),
            },
        }
    )


def cluster_of(served: Served) -> Any:
    return next(iter(served.runtime.clusters.values()))


def phases(served: Served, namespace: str) -> dict[str, str]:
    return {
        p["metadata"]["name"]: str((p.get("status") or {}).get("phase"))
        for p in cluster_of(served).objects.list("Pod", namespace)
    }


def ready_pods(served: Served, namespace: str) -> list[dict[str, Any]]:
    return [
        p
        for p in cluster_of(served).objects.list("Pod", namespace)
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
        and not p["metadata"].get("deletionTimestamp")
    ]


@pytest.fixture
def plane() -> FakeControlPlane:
    p = FakeControlPlane()
    p.add_cluster("demo", nodes=2)
    p.associations.add(("demo", "demo-ns", "demo-sa"))
    return p


async def test_deployment_pods_spread_and_replaced(tmp_path: Path, plane: FakeControlPlane) -> None:
    served = await serve(tmp_path, plane)
    try:
        out = await served.akubectl("apply", "-f", "-", input=APP)
        assert out.returncode == 0, out.stderr
        assert out.stdout == (
            "namespace/demo-ns created\nserviceaccount/demo-sa created\ndeployment.apps/awscli-app created\n"
        )
        await wait_for(lambda: len(ready_pods(served, "demo-ns")) == 2, what="two ready pods")
        pods = ready_pods(served, "demo-ns")
        for pod in pods:
            assert re.fullmatch(f"awscli-app-{NAME_CHARS}{{9,10}}-{NAME_CHARS}{{5}}", pod["metadata"]["name"])
        assert len({p["spec"]["nodeName"] for p in pods}) == 2  # spread over the nodes
        rs = cluster_of(served).objects.list("ReplicaSet", "demo-ns")
        assert [r["metadata"]["name"] for r in rs] == [pods[0]["metadata"]["name"].rsplit("-", 1)[0]]
        assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"

        # applying again changes nothing
        out = await served.akubectl("apply", "-f", "-", input=APP)
        assert out.stdout.splitlines() == [
            "namespace/demo-ns unchanged",
            "serviceaccount/demo-sa unchanged",
            "deployment.apps/awscli-app unchanged",
        ]

        victim = pods[0]["metadata"]["name"]
        pid = int(pods[0]["status"]["containerStatuses"][0]["containerID"].removeprefix("podid://"))
        out = await served.akubectl("delete", "pod", victim, "-n", "demo-ns")
        assert out.stdout == f'pod "{victim}" deleted\n'
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        await wait_for(lambda: len(ready_pods(served, "demo-ns")) == 2, what="a replacement")
        names = {p["metadata"]["name"] for p in ready_pods(served, "demo-ns")}
        assert victim not in names

        out = await served.akubectl("get", "deploy", "-n", "demo-ns")
        assert out.stdout.splitlines()[0] == "NAME         READY   UP-TO-DATE   AVAILABLE   AGE"
        assert re.fullmatch(r"awscli-app   2/2     2            2           \d+s", out.stdout.splitlines()[1])

        out = await served.akubectl("delete", "-f", "-", input=APP)
        assert out.stdout.splitlines() == [
            'namespace "demo-ns" deleted',
            'serviceaccount "demo-sa" deleted',
            'deployment.apps "awscli-app" deleted',
        ]
        assert cluster_of(served).objects.list("Pod", "demo-ns") == []
    finally:
        await served.stop()


async def test_agent_daemonset_one_ready_pod_per_node(tmp_path: Path) -> None:
    plane = FakeControlPlane()
    plane.add_cluster("demo", nodes=3, addons={"eks-pod-identity-agent"})
    served = await serve(tmp_path, plane)
    try:
        await wait_for(lambda: len(ready_pods(served, "kube-system")) == 3, limit=30, what="three agents")
        out = await served.akubectl(
            "get", "pods", "-n", "kube-system", "--selector", "app.kubernetes.io/name=eks-pod-identity-agent"
        )
        lines = out.stdout.splitlines()
        assert lines[0] == "NAME                           READY   STATUS    RESTARTS   AGE"
        assert len(lines) == 4
        for line in lines[1:]:
            assert re.fullmatch(
                f"eks-pod-identity-agent-{NAME_CHARS}{{5}}   1/1     Running   0          \\d+s", line
            ), line
        assert len({p["spec"]["nodeName"] for p in ready_pods(served, "kube-system")}) == 3
        assert all(n.agent_ready for n in cluster_of(served).nodes.values())
        out = await served.akubectl("get", "ds", "-n", "kube-system")
        assert out.stdout.splitlines()[0] == (
            "NAME                     DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   "
            "NODE SELECTOR   AGE"
        )
        assert re.fullmatch(
            r"eks-pod-identity-agent   3         3         3       3            3           "
            r"<none>          \d+s",
            out.stdout.splitlines()[1],
        )

        # scaling the node group to 1 leaves one agent; removing the add-on removes the DaemonSet
        plane.groups["demo"] = [plane.groups["demo"][0].__class__("ng-1", "arn:aws:iam::1:role/r", 1)]
        plane.changed()
        await wait_for(
            lambda: len(cluster_of(served).objects.list("Pod", "kube-system")) == 1, what="one agent"
        )
        plane.addons_["demo"] = set()
        plane.changed()
        await wait_for(lambda: cluster_of(served).objects.list("Pod", "kube-system") == [], what="no agents")
        assert cluster_of(served).objects.list("DaemonSet", "kube-system") == []
    finally:
        await served.stop()


async def test_restart_policies(tmp_path: Path, plane: FakeControlPlane) -> None:
    served = await serve(tmp_path, plane)
    try:
        for name, restart, command in (
            ("never", "Never", ["sh", "-c", "echo bye; exit 3"]),
            ("onfailure", "OnFailure", ["sh", "-c", "exit 4"]),
            ("done", "OnFailure", ["true"]),
        ):
            out = await served.akubectl(
                "apply", "-f", "-", input=pod_manifest(name, command, restart=restart)
            )
            assert out.stdout == f"pod/{name} created\n", out.stderr
        await wait_for(lambda: phases(served, "default").get("never") == "Failed", what="never Failed")
        await wait_for(lambda: phases(served, "default").get("done") == "Succeeded", what="done Succeeded")

        def restarts() -> int:
            pod = cluster_of(served).objects.get("Pod", "default", "onfailure") or {}
            return int(((pod.get("status") or {}).get("containerStatuses") or [{}])[0].get("restartCount", 0))

        await wait_for(lambda: restarts() >= 2, what="restarts")
        out = await served.akubectl("get", "pods")
        rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
        assert rows["never"][1:4] == ["0/1", "Error", "0"]
        assert rows["done"][1:4] == ["0/1", "Completed", "0"]
        assert rows["onfailure"][2] in ("CrashLoopBackOff", "Error", "Running")
        out = await served.akubectl("logs", "never")
        assert out.stdout == "bye\n"
    finally:
        await served.stop()


async def test_token_projection_and_rotation(tmp_path: Path, plane: FakeControlPlane) -> None:
    clock = FakeClock()
    served = await serve(tmp_path, plane, clock=clock)
    try:
        await served.akubectl("apply", "-f", "-", input=APP)
        await wait_for(lambda: len(ready_pods(served, "demo-ns")) == 2, what="pods")
        pod = ready_pods(served, "demo-ns")[0]
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "eks-pod-identity-token")
        ttl = volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"]
        assert 79200 <= ttl <= 86400  # the webhook's jitter rule
        # automountServiceAccountToken: false -> no default token volume, the Pod Identity token still there
        assert [v["name"] for v in pod["spec"]["volumes"]] == ["eks-pod-identity-token"]
        token_file = (
            cluster_of(served).dir
            / "pods"
            / pod["metadata"]["uid"]
            / "volumes"
            / "eks-pod-identity-token"
            / "eks-pod-identity-token"
        )
        first = token_file.read_text()
        claims = jwt.decode(first, options={"verify_signature": False})
        assert claims["aud"] == ["pods.eks.amazonaws.com"]
        assert claims["sub"] == "system:serviceaccount:demo-ns:demo-sa"
        assert claims["kubernetes.io"]["pod"] == {
            "name": pod["metadata"]["name"],
            "uid": pod["metadata"]["uid"],
        }
        assert claims["exp"] - claims["iat"] == ttl
        clock.advance(ttl * 0.79)
        await asyncio.sleep(1.5)  # the rotation loop looks at least once a second
        assert token_file.read_text() == first  # not yet due
        clock.advance(ttl * 0.02)
        await wait_for(lambda: token_file.read_text() != first, limit=5, what="rotation at 80 %")
        rotated = jwt.decode(token_file.read_text(), options={"verify_signature": False})
        assert rotated["iat"] == int(clock.now().timestamp())
        # the process sees the new token at the mounted path (same file, atomically replaced)
        name = pod["metadata"]["name"]
        out = await served.akubectl(
            "exec", "-n", "demo-ns", name, "--", "sh", "-c", "cat $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
        )
        assert out.stdout == token_file.read_text()
    finally:
        await served.stop()


async def test_exec_streams_exit_status_and_tty(tmp_path: Path, plane: FakeControlPlane) -> None:
    served = await serve(tmp_path, plane)
    try:
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"greeting": "hi"},
        }
        await served.akubectl("apply", "-f", "-", input=json.dumps(config))
        shell = json.loads(pod_manifest("shell", ["sleep", "infinity"]))
        shell["spec"]["volumes"] = [{"name": "settings", "configMap": {"name": "settings"}}]
        shell["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "settings", "mountPath": "/var/run/secrets/example.com/settings"},
            {"name": "settings", "mountPath": "/usr/local/podid-test-config", "readOnly": True},
        ]
        await served.akubectl("apply", "-f", "-", input=json.dumps(shell))
        await wait_for(lambda: len(ready_pods(served, "default")) == 1, what="pod")
        # the default service-account token (automount) and the ConfigMap, at their mount paths
        out = await served.akubectl(
            "exec",
            "shell",
            "--",
            "sh",
            "-c",
            "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; "
            "cut -c1-6 /var/run/secrets/kubernetes.io/serviceaccount/token; "
            "cat /var/run/secrets/example.com/settings/greeting",
        )
        assert out.stdout == "default\neyJhbG\nhi", out.stderr
        # a mount point that does not exist on the host is made in a private overlay (root only)
        out = await served.akubectl("exec", "shell", "--", "cat", "/usr/local/podid-test-config/greeting")
        if os.geteuid() == 0:
            assert out.stdout == "hi", out.stderr
            assert "podid-test-config" not in os.listdir("/usr/local")  # the host is unchanged
        else:
            assert out.returncode == 1
        out = await served.akubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 5")
        assert (out.returncode, out.stdout) == (5, "out\n")
        assert out.stderr == "err\ncommand terminated with exit code 5\n"
        out = await served.akubectl("exec", "-i", "shell", "--", "sh", "-c", "tr a-z A-Z", input="hello\n")
        assert (out.returncode, out.stdout) == (0, "HELLO\n")
        # without -i the command gets no stdin
        out = await served.akubectl("exec", "shell", "--", "cat", input="ignored\n")
        assert (out.returncode, out.stdout) == (0, "")
        out = await served.akubectl("exec", "shell", "--", "no-such-program")
        assert out.returncode == 126
        assert 'exec: "no-such-program": executable file not found in $PATH' in out.stderr
        out = await served.akubectl("exec", "shell", "ls")
        assert out.returncode == 1
        assert out.stderr.startswith("error: exec [POD] [COMMAND] is not supported anymore.")
        out = await served.akubectl("exec", "missing", "--", "true")
        assert (out.returncode, out.stderr) == (1, 'Error from server (NotFound): pods "missing" not found\n')

        # -it: a pseudo-terminal on both sides
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PODID_STATE_DIR"] = str(served.state_dir)
        proc = subprocess.Popen(  # noqa: ASYNC220 (waited for in a thread below)
            [sys.executable, "-m", "podid", "kubectl", "exec", "-it", "shell", "--", "sh"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        os.write(master, b"tty; echo rows=$(stty size); exit 7\n")
        data = b""

        def read() -> bytes:
            chunks = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    return chunks
                if not chunk:
                    return chunks
                chunks += chunk

        data = await asyncio.to_thread(read)
        code = await asyncio.to_thread(proc.wait, 30)
        os.close(master)
        assert code == 7
        assert b"/dev/pts/" in data
        assert b"command terminated with exit code 7" in data
    finally:
        await served.stop()


async def test_restart_brings_pods_back(tmp_path: Path, plane: FakeControlPlane) -> None:
    store = Store(tmp_path / "podid.db")
    served = await serve(tmp_path, plane, store=store)
    try:
        await served.akubectl("apply", "-f", "-", input=APP)
        await wait_for(lambda: len(ready_pods(served, "demo-ns")) == 2, what="pods")
        before = {p["metadata"]["name"]: p for p in ready_pods(served, "demo-ns")}
    finally:
        await served.stop()
    for pod in before.values():
        pid = int(pod["status"]["containerStatuses"][0]["containerID"].removeprefix("podid://"))
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    served = await serve(tmp_path, plane, store=store)
    try:
        await wait_for(lambda: len(ready_pods(served, "demo-ns")) == 2, what="pods back")
        after = {p["metadata"]["name"]: p for p in ready_pods(served, "demo-ns")}
        assert set(after) == set(before)
        for name, pod in after.items():
            assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
            assert (
                pod["status"]["containerStatuses"][0]["containerID"]
                != (before[name]["status"]["containerStatuses"][0]["containerID"])
            )
    finally:
        await served.stop()
        store.close()


async def test_kubectl_errors_and_formats(tmp_path: Path, plane: FakeControlPlane) -> None:
    served = await serve(tmp_path, plane)
    try:
        service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n" + pod_manifest(
            "ok", ["sleep", "infinity"]
        )
        out = await served.akubectl("apply", "-f", "-", input=service)
        assert out.returncode == 1
        assert out.stdout == "pod/ok created\n"
        assert out.stderr.startswith(
            'error: resource mapping not found for name: "web" namespace: "" from "STDIN": no matches '
            'for kind "Service" in version "v1"\nensure CRDs are installed first'
        )
        relabeled = json.loads(pod_manifest("ok", ["sleep", "infinity"]))
        relabeled["metadata"]["labels"] = {"tier": "web"}
        out = await served.akubectl("apply", "-f", "-", input=json.dumps(relabeled))
        assert (out.returncode, out.stdout) == (0, "pod/ok configured\n"), out.stderr
        out = await served.akubectl("get", "pods", "-l", "tier=web", "-o", "name")
        assert out.stdout == "pod/ok\n"
        out = await served.akubectl("get", "widgets")
        assert (out.returncode, out.stderr) == (
            1,
            'error: the server doesn\'t have a resource type "widgets"\n',
        )
        out = await served.akubectl("get", "po", "nope")
        assert (out.returncode, out.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')
        out = await served.akubectl("get", "deployments", "-n", "kube-public")
        assert (out.returncode, out.stdout, out.stderr) == (
            0,
            "",
            "No resources found in kube-public namespace.\n",
        )
        out = await served.akubectl("get", "pod", "ok", "-o", "name")
        assert out.stdout == "pod/ok\n"
        out = await served.akubectl("get", "pod", "ok", "-o", "json")
        doc = json.loads(out.stdout)
        assert doc["kind"] == "Pod"
        assert doc["metadata"]["uid"]
        assert doc["metadata"]["resourceVersion"]
        out = await served.akubectl("get", "sa", "-o", "yaml")
        assert out.stdout.startswith("apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n")
        assert out.stdout.endswith("kind: List\nmetadata:\n  resourceVersion: ''\n")
        out = await served.akubectl("apply", "-f", "-", input=pod_manifest("x", ["true"], namespace="ghost"))
        assert out.stderr == (
            'Error from server (NotFound): error when creating "STDIN": namespaces "ghost" not found\n'
        )
        out = await served.akubectl("create", "token", "default", "--audience", "sts.amazonaws.com")
        claims = jwt.decode(out.stdout.strip(), options={"verify_signature": False})
        assert claims["sub"] == "system:serviceaccount:default:default"
        assert claims["aud"] == ["sts.amazonaws.com"]
        out = await served.akubectl("--context", "other", "get", "pods")
        assert (out.returncode, out.stderr) == (1, 'error: context "other" does not exist\n')
    finally:
        await served.stop()


async def test_default_cluster_is_the_newest_and_no_cluster_is_an_error(tmp_path: Path) -> None:
    plane = FakeControlPlane()
    served = await serve(tmp_path, plane)
    try:
        out = await served.akubectl("get", "pods")
        assert out.returncode == 1
        assert out.stderr.startswith("error: no local cluster: create one first")
        plane.add_cluster("old", nodes=1, age_s=60)
        plane.add_cluster("new", nodes=1)
        await wait_for(lambda: len(served.runtime.clusters) == 2, what="clusters")
        await served.akubectl("apply", "-f", "-", input=pod_manifest("here", ["sleep", "infinity"]))
        assert served.runtime.clusters["111122223333/us-west-2/new"].objects.get("Pod", "default", "here")
        out = await served.akubectl("--context", "old", "get", "pods")
        assert out.stderr == "No resources found in default namespace.\n"
        out = await served.akubectl(
            "get", "pods", "--cluster", "arn:aws:eks:us-west-2:111122223333:cluster/new", "-o", "name"
        )
        assert out.stdout == "pod/here\n"
        # deleting the cluster stops its processes and drops its objects
        plane.clusters_ = [c for c in plane.clusters_ if c.name != "new"]
        plane.changed()
        await wait_for(
            lambda: "111122223333/us-west-2/new" not in served.runtime.clusters, what="cluster gone"
        )
        out = await served.akubectl("get", "pods", "-o", "name")
        assert out.stdout == ""
    finally:
        await served.stop()


def test_kube_token_file_is_private(tmp_path: Path) -> None:
    from podid.kube.runtime import read_or_create_token

    token = read_or_create_token(tmp_path)
    assert (tmp_path / "kube-token").stat().st_mode & 0o777 == 0o600
    assert read_or_create_token(tmp_path) == token


async def test_readiness_probes(tmp_path: Path, plane: FakeControlPlane) -> None:
    served = await serve(tmp_path, plane)
    try:
        never = {"readinessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 1}}
        ok = {"readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}
        for name, probe in (("closed", never), ("fine", ok)):
            doc = json.loads(pod_manifest(name, ["sleep", "infinity"]))
            doc["spec"]["containers"][0].update(probe)
            out = await served.akubectl("apply", "-f", "-", input=json.dumps(doc))
            assert out.returncode == 0, out.stderr
        await wait_for(
            lambda: [p["metadata"]["name"] for p in ready_pods(served, "default")] == ["fine"],
            what="the exec probe",
        )
        await asyncio.sleep(0.5)
        out = await served.akubectl("get", "pods")
        rows = {line.split()[0]: line.split()[1:3] for line in out.stdout.splitlines()[1:]}
        assert rows == {"closed": ["0/1", "Running"], "fine": ["1/1", "Running"]}
    finally:
        await served.stop()


async def test_fallback_without_root_points_pods_at_their_nodes_agent(tmp_path: Path) -> None:
    """What a non-root podid does: no namespaces, no mounts: the env is rewritten instead."""
    plane = FakeControlPlane()
    plane.add_cluster("demo", nodes=1, addons={"eks-pod-identity-agent"})
    plane.associations.add(("demo", "demo-ns", "demo-sa"))
    served = await serve(tmp_path, plane, privileged=False)
    try:
        await wait_for(lambda: len(ready_pods(served, "kube-system")) == 1, limit=30, what="the agent")
        no_user = APP.replace("          runAsUser: 1\n", "").replace("          runAsNonRoot: true\n", "")
        await served.akubectl("apply", "-f", "-", input=no_user)
        await wait_for(lambda: len(ready_pods(served, "demo-ns")) == 2, what="pods")
        node = next(iter(cluster_of(served).nodes.values()))
        pod = ready_pods(served, "demo-ns")[0]
        out = await served.akubectl(
            "exec",
            "-n",
            "demo-ns",
            pod["metadata"]["name"],
            "--",
            "sh",
            "-c",
            "env; cat $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE | cut -c1-6",
        )
        env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        assert (
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
            == f"http://{node.address}:{node.agent_port}/v1/credentials"
        )
        assert node.address.startswith("127.")
        token_path = Path(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
        assert token_path.name == "eks-pod-identity-token"
        assert token_path.is_relative_to(tmp_path)
        assert out.stdout.splitlines()[-1] == "eyJhbG"
        # the node's agent answers there (EKS Auth is this test's double, hence the error it relays)
        out = await served.akubectl(
            "exec",
            "-n",
            "demo-ns",
            pod["metadata"]["name"],
            "--",
            "sh",
            "-c",
            'curl -s -o /dev/null -w "%{http_code}" -H "Authorization: '
            '$(cat $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)" $AWS_CONTAINER_CREDENTIALS_FULL_URI',
        )
        assert out.stdout in ("400", "404", "500"), out
    finally:
        await served.stop()


async def test_agent_waits_for_the_nodes_credentials(tmp_path: Path) -> None:
    """A node role EC2 cannot assume yet: the agent pod stays Pending, then starts once it can."""
    from tests.kube.harness import fake_node_credentials

    from podid.kube.ports import NodeCredentials

    allowed = {"yes": False}
    calls: list[tuple[str, str, str]] = []

    def credentials(account: str, role_arn: str, session_name: str) -> NodeCredentials:
        calls.append((account, role_arn, session_name))
        if not allowed["yes"]:
            raise PermissionError("AccessDenied: not authorized to perform sts:AssumeRole")
        return fake_node_credentials(account, role_arn, session_name)

    plane = FakeControlPlane()
    plane.add_cluster("demo", nodes=1, addons={"eks-pod-identity-agent"})
    served = await serve(tmp_path, plane, credentials=credentials)
    try:
        await wait_for(
            lambda: len(cluster_of(served).objects.list("Pod", "kube-system")) == 1, what="agent pod"
        )
        await asyncio.sleep(1.0)
        agent = cluster_of(served).objects.list("Pod", "kube-system")[0]
        assert agent["status"]["phase"] == "Pending"
        state = agent["status"]["containerStatuses"][0]["state"]
        assert state == {"waiting": {"reason": "ContainerCreating"}}
        node = next(iter(cluster_of(served).nodes.values()))
        assert node.credentials_error is not None
        # EC2's view: the node role, the instance id as the session name
        assert calls[0][1] == "arn:aws:iam::111122223333:role/node-role"
        assert re.fullmatch("i-[0-9a-f]{17}", calls[0][2])
        allowed["yes"] = True
        await wait_for(lambda: len(ready_pods(served, "kube-system")) == 1, limit=20, what="the agent")
        text = (node.dir / "credentials").read_text()
        assert text == (
            "[default]\naws_access_key_id = ASIAFAKENODE\naws_secret_access_key = secret\n"
            f"aws_session_token = token-for-{calls[0][2]}\n"
        )
        assert (node.dir / "credentials").stat().st_mode & 0o777 == 0o600
    finally:
        await served.stop()
