"""The walkthrough end to end: `podid demo` as a user runs it (real aws CLI v1, podid eksctl/kubectl)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    return subprocess.run(
        [sys.executable, "-m", "podid", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=170,
        check=False,
    )


def test_make_demo_both_options_every_expectation_holds(tmp_path: Path) -> None:
    out = run_demo(cwd=tmp_path)  # what `make demo` runs; examples/ found in the source tree
    transcript = out.stdout
    assert out.returncode == 0, transcript[-4000:] + out.stderr[-2000:]
    assert "every expected outcome held" in transcript
    assert "✖" not in transcript
    # the guide's commands and outputs, in order
    order = [
        "$ podid eksctl create cluster -f cluster.yaml",
        'EKS cluster "eks-pod-identity-demo" in "us-west-2" region is ready',
        "$ podid kubectl get pods -n kube-system",
        "$ export POD_ROLE_ARN=$(aws iam create-role",
        "$ aws iam attach-role-policy",
        "$ aws eks create-pod-identity-association",
        "$ podid kubectl apply -f demo-app.yaml",
        "deployment.apps/awscli-app created",
        "-- aws s3 ls",
        "-- aws sts get-caller-identity",
        ":assumed-role/s3-app-eks-pod-identity-role/eks-",
        "aws s3 mb s3://my-test-bucket-$(date +%s)",
        "An error occurred (AccessDenied) when calling the CreateBucket operation",
        "$ aws eks delete-pod-identity-association",
        "An error occurred (DeleteConflict) when calling the DeleteRole operation",
        "$ podid eksctl delete cluster --name eks-pod-identity-demo",
        "all cluster resources were deleted",
        "Option 2: CloudFormation",
        "EKSPodIdentityAssociation:",
        'Namespace: "demo-ns" # ← Change this',
        "$ aws cloudformation deploy --template-file eks-pod-identity.yaml",
        "Successfully created/updated stack - eks-pod-identity-demo",
        "CREATE_COMPLETE",
        "$ podid kubectl get pods -n kube-system",
        "$ podid kubectl apply -f demo-app.yaml",
        "-- aws sts get-caller-identity",
        ":assumed-role/",
        "An error occurred (AccessDenied) when calling the CreateBucket operation",
        "$ aws cloudformation delete-stack --stack-name eks-pod-identity-demo",
        "$ aws cloudformation wait stack-delete-complete --stack-name eks-pod-identity-demo",
        "podid stopped",
    ]
    position = 0
    for needle in order:
        found = transcript.find(needle, position)
        assert found >= 0, f"{needle!r} missing (or out of order)"
        position = found
    agents = re.findall(r"^eks-pod-identity-agent-\w{5}\s+1/1\s+Running\s+0\s+\d+s$", transcript, re.M)
    assert len(agents) == 4  # two per option
    # its private state directory is gone
    state = re.search(r"state directory (\S+), working directory", transcript)
    assert state is not None
    assert not Path(state.group(1)).exists()
    assert not Path(state.group(1)).parent.exists()
