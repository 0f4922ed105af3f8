"""A real endpoint on 127.0.0.1 shared by the CloudFormation tests, and stack helpers over boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from podid.gateway.testing import RunningEndpoint, running_endpoint

ACCOUNT = "111122223333"
REGION = "us-west-2"

TRUST_PODS = """
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: pods.eks.amazonaws.com}
            Action: [sts:AssumeRole, sts:TagSession]
"""
TRUST_EKS = """
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: eks.amazonaws.com}
            Action: sts:AssumeRole
"""


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("cfn"), account_id=ACCOUNT, region=REGION) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def cfn(ep: RunningEndpoint) -> Any:
    return ep.boto3_client("cloudformation")


@pytest.fixture(scope="module")
def eks(ep: RunningEndpoint) -> Any:
    return ep.boto3_client("eks")


@pytest.fixture(scope="module")
def iam(ep: RunningEndpoint) -> Any:
    return ep.boto3_client("iam")


def stack(cfn: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return found


def outputs(cfn: Any, name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack(cfn, name).get("Outputs", [])}


def events(cfn: Any, name: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason), oldest first."""
    raw = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(raw)
    ]
