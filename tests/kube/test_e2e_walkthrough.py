"""The walkthrough's Steps 2, 5 and 6 through the real endpoint, runtime, webhook, agent and aws CLI.

A real `podid` endpoint (IAM, STS, EKS, EKS Auth, the local runtime) runs on 127.0.0.1; the cluster,
node group, add-on, role and association are created with boto3 as a user would with the aws CLI;
`demo-app.yaml` (the walkthrough's file, unchanged) is applied with `podid kubectl` as a subprocess;
`podid kubectl exec ... -- aws sts get-caller-identity` runs the aws CLI v1 inside the pod (uid 1,
node network namespace as root), which gets its credentials from the node's `podid agent`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import kubectl

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

DEMO_APP = """\
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
  annotations:
    # Optional: Add if using IRSA for migration
    eks.amazonaws.com/role-arn: $POD_ROLE_ARN
automountServiceAccountToken: false # Security best practice
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

TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
TRUST_PODS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


def interactive(state_dir: Path, args: list[str], typed: bytes) -> tuple[bytes, int]:
    """Run `podid kubectl ARGS` on a pseudo-terminal, type `typed`, return what the terminal showed."""
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PODID_STATE_DIR"] = str(state_dir)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podid", "kubectl", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    os.write(master, typed)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every holder of the terminal's other side has gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return shown, proc.wait(timeout=60)


def wait_until(check: object, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running_pods(state_dir: Path, *args: str) -> list[str]:
    out = kubectl(state_dir, "get", "pods", *args, "-o", "json")
    if out.returncode != 0:
        return []
    items = json.loads(out.stdout).get("items") or []
    return [
        p["metadata"]["name"]
        for p in items
        if (p.get("status") or {}).get("phase") == "Running"
        and all(c.get("ready") for c in p["status"].get("containerStatuses") or [])
    ]


@pytest.fixture
def private_checkout() -> Iterator[None]:
    """The podid checkout holding the venv made private (0700) for the test, as a home directory is.

    The container runs as uid 1 (`runAsUser: 1`): its aws CLI must still run, which the runtime
    arranges in the pod's own mount namespace without changing anything on the host.
    """
    checkout = Path(sys.prefix).resolve().parent
    if (
        os.geteuid() != 0
        or not (checkout / "pyproject.toml").exists()
        or not (checkout / "src" / "podid").is_dir()
    ):
        yield
        return
    mode = checkout.stat().st_mode & 0o7777
    os.chmod(checkout, 0o700)
    try:
        yield
    finally:
        os.chmod(checkout, mode)


@pytest.fixture
def cluster(tmp_path: Path, private_checkout: None) -> Iterator[tuple[RunningEndpoint, Path]]:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    with running_endpoint(state_dir, runtime=True) as ep:
        iam = ep.boto3_client("iam")
        node_role = iam.create_role(RoleName="eks-node-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
        iam.attach_role_policy(
            RoleName="eks-node-role", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
        )
        cluster_role = iam.create_role(
            RoleName="eks-cluster-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "eks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        eks = ep.boto3_client("eks")
        eks.create_cluster(
            name="eks-pod-identity-demo",
            roleArn=cluster_role["Role"]["Arn"],
            resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        )
        eks.create_nodegroup(
            clusterName="eks-pod-identity-demo",
            nodegroupName="ng-1",
            nodeRole=node_role["Role"]["Arn"],
            subnets=["subnet-1"],
            scalingConfig={"minSize": 2, "maxSize": 2, "desiredSize": 2},
        )
        eks.create_addon(clusterName="eks-pod-identity-demo", addonName="eks-pod-identity-agent")
        yield ep, state_dir
    # stopping the endpoint stopped every pod and agent and removed the nodes' namespaces and links
    from podid.kube.netns import prefix_for

    prefix = prefix_for(state_dir)
    listing = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    listing += subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    assert prefix not in listing
    for record in (state_dir / "run").glob("*/pods/*/pids"):
        for line in record.read_text().splitlines():
            assert not Path(f"/proc/{line.split()[0]}").exists() or _stale(line)


def _stale(record: str) -> bool:
    """A recorded pid now used by another process (its start time differs)."""
    pid, ticks = record.split()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[19] != ticks


def test_walkthrough_steps_2_5_6(cluster: tuple[RunningEndpoint, Path]) -> None:
    ep, state_dir = cluster
    # Step 2: one Running agent per node
    wait_until(lambda: len(running_pods(state_dir, "-n", "kube-system")) == 2, "two ready agents")
    out = kubectl(
        state_dir,
        "get",
        "pods",
        "-n",
        "kube-system",
        "--selector",
        "app.kubernetes.io/name=eks-pod-identity-agent",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(lines) == 3
    assert all(
        line.startswith("eks-pod-identity-agent-") and " 1/1 " in line and " Running " in line
        for line in lines[1:]
    )

    # Steps 3 and 4: the role and the association
    iam = ep.boto3_client("iam")
    role_arn = iam.create_role(
        RoleName="s3-app-eks-pod-identity-role", AssumeRolePolicyDocument=json.dumps(TRUST_PODS)
    )["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="s3-app-eks-pod-identity-role", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )
    ep.boto3_client("eks").create_pod_identity_association(
        clusterName="eks-pod-identity-demo", namespace="demo-ns", serviceAccount="demo-sa", roleArn=role_arn
    )

    # Step 5: demo-app.yaml, unchanged
    manifest = state_dir.parent / "demo-app.yaml"
    manifest.write_text(DEMO_APP)
    out = kubectl(state_dir, "apply", "-f", str(manifest))
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "namespace/demo-ns created\nserviceaccount/demo-sa created\ndeployment.apps/awscli-app created\n"
    )
    wait_until(lambda: len(running_pods(state_dir, "-n", "demo-ns")) == 2, "two running awscli-app pods")
    pods = running_pods(state_dir, "-n", "demo-ns")
    assert all(p.startswith("awscli-app-") and len(p.split("-")[-1]) == 5 for p in pods)

    # Step 6: the aws CLI inside the pod, through the agent
    out = kubectl(state_dir, "exec", "-n", "demo-ns", pods[0], "--", "aws", "sts", "get-caller-identity")
    assert out.returncode == 0, out.stderr + out.stdout
    identity = json.loads(out.stdout)
    if os.geteuid() == 0 and (Path(sys.prefix).resolve().parent / "src" / "podid").is_dir():
        # it ran as uid 1 from a private checkout and a private state directory
        assert Path(sys.prefix).resolve().parent.stat().st_mode & 0o077 == 0
        assert state_dir.stat().st_mode & 0o077 == 0
    assert identity["Arn"].startswith(
        "arn:aws:sts::111122223333:assumed-role/s3-app-eks-pod-identity-role/eks-"
    )
    assert identity["Account"] == "111122223333"
    # Step 6 as typed: an interactive shell in the pod (a pseudo-terminal on both sides)
    transcript, code = interactive(
        state_dir,
        ["exec", "-it", "-n", "demo-ns", pods[0], "--", "sh"],
        b"aws sts get-caller-identity --query Arn --output text; exit\n",
    )
    assert code == 0, transcript
    assert b"assumed-role/s3-app-eks-pod-identity-role/eks-" in transcript
    # 1. List S3 buckets (should succeed)
    ep.boto3_client("s3").create_bucket(
        Bucket="walkthrough-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    out = kubectl(state_dir, "exec", "-n", "demo-ns", pods[0], "--", "aws", "s3", "ls")
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith(" walkthrough-data")
    # 3. Attempt to create a bucket (should FAIL)
    out = kubectl(
        state_dir,
        "exec",
        "-n",
        "demo-ns",
        pods[0],
        "--",
        "sh",
        "-c",
        "aws s3 mb s3://my-test-bucket-$(date +%s)",
    )
    assert out.returncode == 1
    # the walkthrough shows "Access Denied"; S3's newer messages add who was refused and why
    assert "An error occurred (AccessDenied) when calling the CreateBucket operation: " in out.stderr
    assert "command terminated with exit code 1" in out.stderr
    # the container runs as uid 1 (runAsUser) and sees exactly EKS's variables
    out = kubectl(state_dir, "exec", "-n", "demo-ns", pods[0], "--", "sh", "-c", "id -u; env")
    uid, *env_lines = out.stdout.splitlines()
    env = dict(line.split("=", 1) for line in env_lines if "=" in line)
    if os.geteuid() == 0:
        assert uid == "1"
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://169.254.170.23/v1/credentials"
        assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == (
            "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
        )
    assert {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_ENDPOINT_URL",
        "PATH",
    } <= set(env)
    assert not any(k.startswith("PODID_") for k in env)


def test_association_timing_as_on_eks(cluster: tuple[RunningEndpoint, Path]) -> None:
    """A pod created before its association has no credentials; the Deployment's replacements do;
    after the association is deleted, a pod's first credential request fails with EKS Auth's error
    passed through by the agent."""
    ep, state_dir = cluster
    wait_until(lambda: len(running_pods(state_dir, "-n", "kube-system")) == 2, "two ready agents")
    out = kubectl(state_dir, "apply", "-f", "-", input=DEMO_APP)
    assert out.returncode == 0, out.stderr
    wait_until(lambda: len(running_pods(state_dir, "-n", "demo-ns")) == 2, "two running pods")
    early = running_pods(state_dir, "-n", "demo-ns")
    out = kubectl(
        state_dir, "exec", "-n", "demo-ns", early[0], "--", "sh", "-c", "env | grep -c AWS_CONTAINER_ || true"
    )
    assert out.stdout.strip() == "0"  # not mutated: no association at admission time
    # the service account's literal `eks.amazonaws.com/role-arn: $POD_ROLE_ARN` got IRSA's variables
    # instead (as on EKS), and the aws CLI refuses that value
    out = kubectl(state_dir, "exec", "-n", "demo-ns", early[0], "--", "sh", "-c", "echo $AWS_ROLE_ARN")
    assert out.stdout == "$POD_ROLE_ARN\n"
    out = kubectl(state_dir, "exec", "-n", "demo-ns", early[0], "--", "aws", "sts", "get-caller-identity")
    assert out.returncode == 255
    assert "Invalid length for parameter RoleArn" in out.stderr

    iam = ep.boto3_client("iam")
    role_arn = iam.create_role(
        RoleName="s3-app-eks-pod-identity-role", AssumeRolePolicyDocument=json.dumps(TRUST_PODS)
    )["Role"]["Arn"]
    eks = ep.boto3_client("eks")
    assoc = eks.create_pod_identity_association(
        clusterName="eks-pod-identity-demo", namespace="demo-ns", serviceAccount="demo-sa", roleArn=role_arn
    )["association"]
    early_uids = [
        json.loads(kubectl(state_dir, "get", "pod", "-n", "demo-ns", name, "-o", "json").stdout)["metadata"][
            "uid"
        ]
        for name in early
    ]
    out = kubectl(state_dir, "delete", "pod", "-n", "demo-ns", *early)
    assert out.stdout == "".join(f'pod "{name}" deleted\n' for name in early)
    wait_until(lambda: len(set(running_pods(state_dir, "-n", "demo-ns")) - set(early)) == 2, "replacements")
    first, second = sorted(set(running_pods(state_dir, "-n", "demo-ns")) - set(early))
    # deleting a pod told its node's agent to forget the pod's credentials
    agent_logs = "".join(
        kubectl(state_dir, "logs", "-n", "kube-system", agent).stdout
        for agent in running_pods(state_dir, "-n", "kube-system")
    )
    for uid in early_uids:
        assert f'"pod-uid": "{uid}"' in agent_logs
    pod = json.loads(kubectl(state_dir, "get", "pods", "-n", "demo-ns", first, "-o", "json").stdout)
    assert pod["metadata"]["labels"]["eks.amazonaws.com/pod-identity"] == "enabled"
    out = kubectl(
        state_dir,
        "exec",
        "-n",
        "demo-ns",
        first,
        "--",
        "aws",
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("arn:aws:sts::111122223333:assumed-role/s3-app-eks-pod-identity-role/eks-")

    eks.delete_pod_identity_association(
        clusterName="eks-pod-identity-demo", associationId=assoc["associationId"]
    )
    out = kubectl(state_dir, "exec", "-n", "demo-ns", second, "--", "aws", "sts", "get-caller-identity")
    assert out.returncode != 0
    assert "from container metadata" in out.stderr, out.stderr
    assert "Exception): " in out.stderr, out.stderr
    assert "fault: client" in out.stderr, out.stderr
