"""The aws CLI v1, as a separate process, deploying the walkthrough's Option 2 template.

`aws cloudformation deploy --template-file examples/eks-pod-identity.yaml --stack-name x
--capabilities CAPABILITY_NAMED_IAM` must create what the walkthrough says the template creates
(cluster with the agent add-on, node group, the Pod Identity role, the demo-ns/demo-sa
association); a second deploy must say "No changes to deploy"; the walkthrough's "Change this" edit
must replace the association; `delete-stack` + `wait stack-delete-complete` must remove it all.
Every waiter returns at its first poll (counted in the endpoint's audit records).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "eks-pod-identity.yaml"


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("cfn-cli")) as endpoint:
        yield endpoint


def aws(ep: RunningEndpoint, *args: str) -> subprocess.CompletedProcess[str]:
    return ep.aws(*args)


def ok(ep: RunningEndpoint, *args: str) -> str:
    result = aws(ep, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def calls(ep: RunningEndpoint, operation: str, since: int) -> int:
    """How many requests for `operation` the endpoint served after audit record number `since`."""
    recent = ep.call(lambda: list(ep.endpoint.audit.recent))
    return sum(1 for event in recent[since:] if event["eventName"] == operation)


def next_second() -> None:
    """`aws cloudformation deploy` names its change set after the current second; CloudFormation keeps
    executed and failed change sets, so two deploys within one second would collide (AlreadyExists),
    which on AWS never happens because a deploy takes longer than that."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def audit_mark(ep: RunningEndpoint) -> int:
    return ep.call(lambda: len(ep.endpoint.audit.recent))


def test_deploy_redeploy_change_and_delete(ep: RunningEndpoint, tmp_path: Path) -> None:
    cfn, eks, iam = (ep.boto3_client(s) for s in ("cloudformation", "eks", "iam"))
    deploy = ["cloudformation", "deploy", "--stack-name", "x", "--capabilities", "CAPABILITY_NAMED_IAM"]
    mark = audit_mark(ep)
    out = ok(ep, *deploy, "--template-file", str(TEMPLATE))
    assert "Successfully created/updated stack - x" in out
    # each waiter succeeded at its first poll: one DescribeChangeSet; DescribeStacks once to find
    # that the stack does not exist yet and once for stack-create-complete
    assert calls(ep, "DescribeChangeSet", mark) == 1
    assert calls(ep, "DescribeStacks", mark) == 2
    stack = cfn.describe_stacks(StackName="x")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    cluster = outputs["ClusterName"]
    assert cluster == "eks-pod-identity-demo"

    # what the walkthrough says Option 2's template creates
    assert "eks-pod-identity-agent" in eks.list_addons(clusterName=cluster)["addons"]
    group = eks.describe_nodegroup(clusterName=cluster, nodegroupName="eks-shared-demo-mng")["nodegroup"]
    assert group["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 2}
    node_role = group["nodeRole"].rsplit("/", 1)[-1]
    attached = iam.list_attached_role_policies(RoleName=node_role)["AttachedPolicies"]
    assert {p["PolicyName"] for p in attached} == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
    }
    role = iam.get_role(RoleName="s3-app-eks-pod-identity-role")["Role"]
    assert role["Arn"] == outputs["PodIdentityRoleArn"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    policies = iam.list_attached_role_policies(RoleName="s3-app-eks-pod-identity-role")["AttachedPolicies"]
    assert [p["PolicyName"] for p in policies] == ["AmazonS3ReadOnlyAccess"]
    associations = eks.list_pod_identity_associations(clusterName=cluster)["associations"]
    assert [(a["namespace"], a["serviceAccount"]) for a in associations] == [("demo-ns", "demo-sa")]
    first_id = associations[0]["associationId"]
    assert first_id == outputs["PodIdentityAssociationId"]

    # the same template again: nothing to deploy (exit 255 without --no-fail-on-empty-changeset)
    next_second()
    again = aws(ep, *deploy, "--template-file", str(TEMPLATE))
    assert again.returncode == 255
    assert "No changes to deploy. Stack x is up to date" in again.stdout + again.stderr

    # the walkthrough's "Change this" edit: a new namespace replaces the association
    edited = tmp_path / "eks-pod-identity.yaml"
    edited.write_text(TEMPLATE.read_text().replace('Namespace: "demo-ns"', 'Namespace: "team-ns"'))
    mark = audit_mark(ep)
    next_second()
    assert "Successfully created/updated stack - x" in ok(ep, *deploy, "--template-file", str(edited))
    assert calls(ep, "DescribeChangeSet", mark) == 1
    assert cfn.describe_stacks(StackName="x")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    associations = eks.list_pod_identity_associations(clusterName=cluster)["associations"]
    assert [(a["namespace"], a["serviceAccount"]) for a in associations] == [("team-ns", "demo-sa")]
    assert associations[0]["associationId"] != first_id

    ok(ep, "cloudformation", "delete-stack", "--stack-name", "x")
    mark = audit_mark(ep)
    ok(ep, "cloudformation", "wait", "stack-delete-complete", "--stack-name", "x")
    assert calls(ep, "DescribeStacks", mark) == 1
    assert cluster not in eks.list_clusters()["clusters"]
    assert "s3-app-eks-pod-identity-role" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    summaries = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert [s["StackName"] for s in summaries] == ["x"]


def test_deploy_without_the_capability_is_refused(ep: RunningEndpoint) -> None:
    result = aws(ep, "cloudformation", "deploy", "--stack-name", "nocaps", "--template-file", str(TEMPLATE))
    assert result.returncode == 255
    assert "InsufficientCapabilitiesException" in result.stderr
    assert "Requires capabilities : [CAPABILITY_NAMED_IAM]" in result.stderr
