"""`podid demo --migration` as a user runs it: IRSA first, then eksctl's migration to Pod Identity."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_migration_every_expectation_holds(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    out = subprocess.run(
        [sys.executable, "-m", "podid", "demo", "--migration"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # examples/ found in the source tree
        timeout=170,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    text = out.stdout
    assert "every expected outcome held" in text
    # the story, in order: IRSA session, migration, old pod still IRSA, new pod on Pod Identity
    markers = [
        "$ podid eksctl utils associate-iam-oidc-provider --cluster eks-pod-identity-demo --approve",
        "assumed-role/s3-app-irsa-role/botocore-session-",
        "$ podid eksctl utils migrate-to-pod-identity --cluster eks-pod-identity-demo --approve",
        "Step 4: Running pods keep IRSA",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI=",
        "assumed-role/s3-app-irsa-role/eks-",
        "kubernetes-namespace = demo-ns",
        "no cluster, no role and no OIDC provider remain",
    ]
    positions = [text.find(m) for m in markers]
    assert all(p >= 0 for p in positions), [m for m, p in zip(markers, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
