"""`podid eksctl` as a subprocess against a real endpoint with the local runtime, as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import podid

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[RunningEndpoint, Path]]:
    state_dir = tmp_path / "state"
    with running_endpoint(state_dir, runtime=True) as ep:
        yield ep, state_dir


def role_names(ep: RunningEndpoint) -> set[str]:
    return {r["RoleName"] for r in ep.boto3_client("iam").list_roles()["Roles"]}


def test_create_get_delete_cluster_from_the_walkthrough_file(endpoint: tuple[RunningEndpoint, Path]) -> None:
    ep, state_dir = endpoint
    out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(EXAMPLES / "cluster.yaml"))
    assert out.returncode == 0, out.stderr
    log = out.stderr
    assert "[!]  managedNodeGroups[0].privateNetworking: accepted, has no effect locally" in log
    assert log.count("has no effect locally") == 1
    assert 'EKS cluster "eks-pod-identity-demo" in "us-west-2" region is ready' in log

    # when create returns: ACTIVE cluster, node group, add-ons; Ready nodes; one ready agent per node
    eks = ep.boto3_client("eks")
    assert eks.describe_cluster(name="eks-pod-identity-demo")["cluster"]["status"] == "ACTIVE"
    assert eks.describe_cluster(name="eks-pod-identity-demo")["cluster"]["version"] == "1.28"
    group = eks.describe_nodegroup(clusterName="eks-pod-identity-demo", nodegroupName="eks-shared-demo-mng")
    assert group["nodegroup"]["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 2}
    assert group["nodegroup"]["instanceTypes"] == ["t3.medium"]
    assert sorted(eks.list_addons(clusterName="eks-pod-identity-demo")["addons"]) == [
        "coredns",
        "eks-pod-identity-agent",
        "kube-proxy",
        "vpc-cni",
    ]
    pods = podid(state_dir, "kubectl", "get", "pods", "-n", "kube-system", "-o", "json")
    items = json.loads(pods.stdout)["items"]
    agents = [p for p in items if p["metadata"]["name"].startswith("eks-pod-identity-agent-")]
    assert len(agents) == 2
    assert all(p["status"]["phase"] == "Running" for p in agents)
    assert len({p["spec"]["nodeName"] for p in agents}) == 2

    # the roles eksctl makes, with the policies eksctl attaches
    iam = ep.boto3_client("iam")
    node_role = next(n for n in role_names(ep) if "-nodegroup-eks-shared-d" in n)
    attached = {
        p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=node_role)["AttachedPolicies"]
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonSSMManagedInstanceCore",
    }
    trust = iam.get_role(RoleName=node_role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": ["ec2.amazonaws.com"]}
    service_role = next(n for n in role_names(ep) if "-cluster-ServiceRole-" in n)
    assert (
        iam.get_role(RoleName=service_role)["Role"]["Arn"]
        == (eks.describe_cluster(name="eks-pod-identity-demo")["cluster"]["roleArn"])
    )

    out = podid(state_dir, "eksctl", "get", "cluster")
    assert out.returncode == 0
    assert out.stdout.split("\n")[1].split() == ["eks-pod-identity-demo", "us-west-2", "True"]

    # creating it again is refused
    out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(EXAMPLES / "cluster.yaml"))
    assert out.returncode == 1
    assert 'Error: cluster "eks-pod-identity-demo" already exists' in out.stderr

    # a user's own role survives the deletion; eksctl's roles do not
    iam.create_role(
        RoleName="mine",
        AssumeRolePolicyDocument=(EXAMPLES / "eks-pod-identity-trust-policy.json").read_text(),
    )
    out = podid(state_dir, "eksctl", "delete", "cluster", "--name", "eks-pod-identity-demo")
    assert out.returncode == 0, out.stderr
    assert "all cluster resources were deleted" in out.stderr
    assert eks.list_clusters()["clusters"] == []
    assert role_names(ep) == {"mine"}
    nodes = podid(state_dir, "kubectl", "get", "nodes")
    assert "no local cluster" in nodes.stderr

    out = podid(state_dir, "eksctl", "delete", "cluster", "--name", "eks-pod-identity-demo")
    assert out.returncode == 1
    assert "No cluster found for name: eks-pod-identity-demo." in out.stderr


def test_config_pod_identities_and_the_podidentityassociation_commands(
    endpoint: tuple[RunningEndpoint, Path], tmp_path: Path
) -> None:
    ep, state_dir = endpoint
    config = tmp_path / "c.yaml"
    config.write_text(
        """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: c2
  region: us-west-2
  tags: {team: blue}
iam:
  podIdentityAssociations:
    - namespace: demo-ns
      serviceAccountName: demo-sa
      permissionPolicyARNs: ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
      createServiceAccount: true
managedNodeGroups:
  - name: ng
    desiredCapacity: 1
    labels: {role: worker}
"""
    )
    out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(config))
    assert out.returncode == 0, out.stderr
    assert "no addons listed: installing eksctl's default addons" in out.stderr
    eks = ep.boto3_client("eks")
    assert "eks-pod-identity-agent" in eks.list_addons(clusterName="c2")["addons"]
    assert eks.describe_cluster(name="c2")["cluster"]["tags"]["team"] == "blue"
    (assoc,) = eks.list_pod_identity_associations(clusterName="c2")["associations"]
    role_arn = eks.describe_pod_identity_association(clusterName="c2", associationId=assoc["associationId"])[
        "association"
    ]["roleArn"]
    iam = ep.boto3_client("iam")
    role_name = role_arn.rsplit("/", 1)[1]
    assert role_name.startswith("eksctl-c2-podidentityrole-demo-ns-demo-sa-Role1-")
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    sa = podid(state_dir, "kubectl", "get", "serviceaccount", "demo-sa", "-n", "demo-ns", "-o", "json")
    assert sa.returncode == 0, sa.stderr

    out = podid(state_dir, "eksctl", "get", "podidentityassociation", "--cluster", "c2", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {
            "AssociationARN": assoc["associationArn"],
            "Namespace": "demo-ns",
            "ServiceAccountName": "demo-sa",
            "RoleARN": role_arn,
        }
    ]

    # by flags, with an existing role
    out = podid(
        state_dir,
        "eksctl",
        "create",
        "podidentityassociation",
        "--cluster",
        "c2",
        "--namespace",
        "other",
        "--service-account-name",
        "sa2",
        "--role-arn",
        role_arn,
    )
    assert out.returncode == 0, out.stderr
    table = podid(
        state_dir, "eksctl", "get", "podidentityassociations", "--cluster", "c2", "--namespace", "other"
    )
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["ASSOCIATION", "ARN"]
    assert len(lines) == 2
    assert lines[1].split()[1:4] == ["other", "sa2", role_arn]

    out = podid(
        state_dir, "eksctl", "create", "podidentityassociation", "--cluster", "c2", "--namespace", "x",
        "--service-account-name", "y",
    )  # fmt: skip
    assert out.returncode == 1
    assert "at least one of the following must be specified" in out.stderr

    # deleting the association made from the config deletes the role eksctl made for it
    out = podid(
        state_dir, "eksctl", "delete", "podidentityassociation", "--cluster", "c2", "--namespace", "demo-ns",
        "--service-account-name", "demo-sa",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert role_name not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    remaining = eks.list_pod_identity_associations(clusterName="c2")["associations"]
    assert [(a["namespace"], a["serviceAccount"]) for a in remaining] == [("other", "sa2")]

    out = podid(state_dir, "eksctl", "delete", "cluster", "-f", str(config))
    assert out.returncode == 0, out.stderr
    assert eks.list_clusters()["clusters"] == []


def test_schema_error_from_the_command_line(endpoint: tuple[RunningEndpoint, Path], tmp_path: Path) -> None:
    _, state_dir = endpoint
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "cluster.yaml").read_text().replace("instanceType:", "instanceTyp:"))
    out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(bad))
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f'Error: loading config file "{bad}": error unmarshaling JSON: while decoding JSON: '
        'json: unknown field "managedNodeGroups[0].instanceTyp"'
    )


def test_not_running(tmp_path: Path) -> None:
    out = podid(tmp_path / "nothing", "eksctl", "get", "cluster")
    assert out.returncode == 1
    assert "podid is not running" in out.stderr


def test_a_failed_create_says_how_to_clean_up_and_delete_removes_its_roles(
    endpoint: tuple[RunningEndpoint, Path], tmp_path: Path
) -> None:
    ep, state_dir = endpoint
    config = tmp_path / "old.yaml"
    config.write_text((EXAMPLES / "cluster.yaml").read_text().replace('version: "1.28"', 'version: "1.10"'))
    out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(config))
    assert out.returncode == 1
    assert '[✖]  failed to create cluster "eks-pod-identity-demo"' in out.stderr
    assert (
        "to cleanup resources, run "
        "'podid eksctl delete cluster --region=us-west-2 --name=eks-pod-identity-demo'" in out.stderr
    )
    assert "InvalidParameterException" in out.stderr.splitlines()[-1]
    assert out.stderr.splitlines()[-1].startswith("Error: ")
    assert any("-cluster-ServiceRole-" in name for name in role_names(ep))
    out = podid(state_dir, "eksctl", "delete", "cluster", "--name", "eks-pod-identity-demo")
    assert out.returncode == 0, out.stderr
    assert role_names(ep) == set()


def test_addon_pod_identities_unmanaged_groups_and_a_given_node_role(
    endpoint: tuple[RunningEndpoint, Path], tmp_path: Path
) -> None:
    ep, state_dir = endpoint
    iam = ep.boto3_client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    node_role = iam.create_role(RoleName="my-nodes", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName="my-nodes", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
    config = tmp_path / "c3.yaml"
    config.write_text(
        f"""\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {{name: c3, region: us-west-2}}
addons:
  - name: eks-pod-identity-agent
  - name: vpc-cni
    podIdentityAssociations:
      - serviceAccountName: aws-node
        permissionPolicyARNs: [arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy]
nodeGroups:
  - name: self-managed
    desiredCapacity: 1
    iam: {{instanceRoleARN: "{node_role}"}}
"""
    )
    out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(config))
    assert out.returncode == 0, out.stderr
    assert "with un-managed nodes" in out.stderr
    eks = ep.boto3_client("eks")
    assert (
        eks.describe_nodegroup(clusterName="c3", nodegroupName="self-managed")["nodegroup"]["nodeRole"]
        == node_role
    )
    (assoc,) = eks.list_pod_identity_associations(clusterName="c3")["associations"]
    assert (assoc["namespace"], assoc["serviceAccount"]) == ("kube-system", "aws-node")
    assert ":addon/c3/vpc-cni/" in assoc["ownerArn"]
    made = {r["RoleName"] for r in iam.list_roles()["Roles"]} - {"my-nodes"}
    assert len(made) == 2  # the service role and the add-on's pod identity role; no node role
    assert any(n.startswith("eksctl-c3-podidentityrole-kube-system-aws-node-") for n in made)

    out = podid(state_dir, "eksctl", "delete", "cluster", "--name", "c3")
    assert out.returncode == 0, out.stderr
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} == {"my-nodes"}
    assert iam.list_attached_role_policies(RoleName="my-nodes")["AttachedPolicies"]
