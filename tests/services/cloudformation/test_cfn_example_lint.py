"""The walkthrough's Option 2 template passes cfn-lint, and podid reads it as CloudFormation does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from podid.services.cloudformation.template import load_template

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "eks-pod-identity.yaml"


def test_example_template_passes_cfn_lint() -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(lint), str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_declares_the_walkthrough_association() -> None:
    template = load_template(EXAMPLE.read_text())
    association = template.resources["EKSPodIdentityAssociation"]
    assert association["Type"] == "AWS::EKS::PodIdentityAssociation"
    assert association["Properties"] == {
        "ClusterName": {"Ref": "ClusterName"},
        "Namespace": "demo-ns",
        "ServiceAccount": "demo-sa",
        "RoleArn": {"Fn::GetAtt": ["PodIdentityRole", "Arn"]},
    }
    addon = template.resources["PodIdentityAgentAddon"]["Properties"]
    assert addon["AddonName"] == "eks-pod-identity-agent"
