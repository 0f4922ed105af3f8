"""End to end over HTTP on 127.0.0.1: boto3 and the aws CLI v1 against EKS, EKS Auth, OIDC, STS."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from tests.services.eksauth.e2e_support import ACCOUNT, aws_cli, aws_cli_error, eks_endpoint, get_json

from podid.gateway.testing import RunningEndpoint

pytestmark = pytest.mark.e2e

REGION = "us-west-2"
POD_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with eks_endpoint(tmp_path_factory.mktemp("eks-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def world(ep: RunningEndpoint) -> dict[str, Any]:
    """A cluster, a pod role, a node role with node credentials."""
    iam = ep.boto3_client("iam")
    eks = ep.boto3_client("eks")
    cluster_role = iam.create_role(RoleName="eks-cluster-role", AssumeRolePolicyDocument=POD_TRUST)["Role"][
        "Arn"
    ]
    created = eks.create_cluster(
        name="demo-cluster",
        version="1.28",
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
    )["cluster"]
    pod_role = iam.create_role(RoleName="demo-app-role", AssumeRolePolicyDocument=POD_TRUST)["Role"]["Arn"]
    node_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam.create_role(RoleName="node-role", AssumeRolePolicyDocument=node_trust)
    iam.put_role_policy(
        RoleName="node-role",
        PolicyName="worker",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "eks-auth:AssumeRoleForPodIdentity", "Resource": "*"}
                ],
            }
        ),
    )
    node = ep.boto3_client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/node-role", RoleSessionName="i-0123456789abcdef0"
    )["Credentials"]
    return {"created": created, "pod_role": pod_role, "node": node}


def node_client(ep: RunningEndpoint, node: dict[str, Any]) -> Any:
    return ep.client("eks-auth", node["AccessKeyId"], node["SecretAccessKey"], node["SessionToken"])


def pod_token(ep: RunningEndpoint, namespace: str, sa: str, pod: str = "demo-app") -> str:
    eks = ep.endpoint.services.eks

    def issue() -> str:
        cluster = eks.cluster_by_name(ACCOUNT, REGION, "demo-cluster")
        return str(
            eks.issuer_for(cluster).issue(
                namespace,
                sa,
                audience=["pods.eks.amazonaws.com"],
                duration_s=86400,
                pod_name=pod,
                pod_uid="4b0f1f1e-0000-4000-8000-000000000001",
                now=ep.endpoint.clock.now(),
            )
        )

    return ep.call(issue)


def test_cluster_create_waiter_and_describe(ep: RunningEndpoint, world: dict[str, Any]) -> None:
    eks = ep.boto3_client("eks")
    assert world["created"]["status"] == "CREATING"
    eks.get_waiter("cluster_active").wait(name="demo-cluster", WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    cluster = eks.describe_cluster(name="demo-cluster")["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["version"] == "1.28"
    assert cluster["resourcesVpcConfig"]["subnetIds"] == ["subnet-1", "subnet-2"]
    assert cluster["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/demo-cluster"
    assert re.fullmatch(rf"{re.escape(ep.url)}/oidc/id/[0-9A-F]{{32}}", cluster["identity"]["oidc"]["issuer"])
    assert "demo-cluster" in eks.list_clusters()["clusters"]
    with pytest.raises(ClientError) as err:
        eks.describe_cluster(name="missing")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_oidc_discovery_and_jwks_verify_a_token(ep: RunningEndpoint, world: dict[str, Any]) -> None:
    issuer = ep.boto3_client("eks").describe_cluster(name="demo-cluster")["cluster"]["identity"]["oidc"][
        "issuer"
    ]
    status, doc = get_json(issuer + "/.well-known/openid-configuration")
    assert status == 200
    assert doc["issuer"] == issuer
    status, jwks = get_json(doc["jwks_uri"])
    assert status == 200
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"]
    token = pod_token(ep, "demo-ns", "demo-sa")
    client = jwt.PyJWKClient(doc["jwks_uri"])
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="pods.eks.amazonaws.com", issuer=issuer
    )
    assert claims["sub"] == "system:serviceaccount:demo-ns:demo-sa"
    assert get_json(issuer.rsplit("/", 1)[0] + "/" + "0" * 32 + "/keys")[0] == 404


def test_boto3_association_lifecycle_and_pod_identity_exchange(
    ep: RunningEndpoint, world: dict[str, Any]
) -> None:
    eks = ep.boto3_client("eks")
    assoc = eks.create_pod_identity_association(
        clusterName="demo-cluster", namespace="boto-ns", serviceAccount="boto-sa", roleArn=world["pod_role"]
    )["association"]
    assert re.fullmatch(r"a-[a-z0-9]{17}", assoc["associationId"])
    assert assoc["disableSessionTags"] is False
    with pytest.raises(ClientError) as err:
        eks.create_pod_identity_association(
            clusterName="demo-cluster",
            namespace="boto-ns",
            serviceAccount="boto-sa",
            roleArn=world["pod_role"],
        )
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    pages = eks.get_paginator("list_pod_identity_associations").paginate(
        clusterName="demo-cluster", namespace="boto-ns", PaginationConfig={"PageSize": 1}
    )
    listed = [a["associationId"] for page in pages for a in page["associations"]]
    assert listed == [assoc["associationId"]]

    auth = node_client(ep, world["node"])
    out = auth.assume_role_for_pod_identity(
        clusterName="demo-cluster", token=pod_token(ep, "boto-ns", "boto-sa")
    )
    assert out["subject"] == {"namespace": "boto-ns", "serviceAccount": "boto-sa"}
    assert out["audience"] == "pods.eks.amazonaws.com"
    assert out["podIdentityAssociation"]["associationId"] == assoc["associationId"]
    creds = out["credentials"]
    sts = ep.client("sts", creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    arn = sts.get_caller_identity()["Arn"]
    assert re.fullmatch(
        rf"arn:aws:sts::{ACCOUNT}:assumed-role/demo-app-role/eks-demo-clust-demo-app-[0-9a-f-]{{36}}", arn
    )

    # wire-level errors seen by the node agent's SDK
    with pytest.raises(ClientError) as err:
        auth.assume_role_for_pod_identity(clusterName="demo-cluster", token=pod_token(ep, "no-ns", "no-sa"))
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        auth.assume_role_for_pod_identity(clusterName="demo-cluster", token="aaa.bbb.ccc")
    assert err.value.response["Error"]["Code"] == "InvalidTokenException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    eks.delete_pod_identity_association(clusterName="demo-cluster", associationId=assoc["associationId"])


def test_aws_cli_association_commands_and_eks_auth(ep: RunningEndpoint, world: dict[str, Any]) -> None:
    assert aws_cli(ep, "eks", "wait", "cluster-active", "--name", "demo-cluster") is None
    created = aws_cli(
        ep, "eks", "create-pod-identity-association", "--cluster-name", "demo-cluster",
        "--namespace", "demo-ns", "--service-account", "demo-sa", "--role-arn", world["pod_role"],
    )["association"]  # fmt: skip
    assoc_id = created["associationId"]
    listed = aws_cli(ep, "eks", "list-pod-identity-associations", "--cluster-name", "demo-cluster")
    assert assoc_id in [a["associationId"] for a in listed["associations"]]
    described = aws_cli(
        ep,
        "eks",
        "describe-pod-identity-association",
        "--cluster-name",
        "demo-cluster",
        "--association-id",
        assoc_id,
    )["association"]
    assert described["roleArn"] == world["pod_role"]
    updated = aws_cli(
        ep, "eks", "update-pod-identity-association", "--cluster-name", "demo-cluster",
        "--association-id", assoc_id, "--disable-session-tags",
    )["association"]  # fmt: skip
    assert updated["disableSessionTags"] is True

    node = world["node"]
    node_env = {
        "AWS_ACCESS_KEY_ID": node["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": node["SecretAccessKey"],
        "AWS_SESSION_TOKEN": node["SessionToken"],
    }
    out = aws_cli(
        ep, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "demo-cluster",
        "--token", pod_token(ep, "demo-ns", "demo-sa"), env=node_env,
    )  # fmt: skip
    assert out["assumedRoleUser"]["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/demo-app-role/eks-")
    stderr = aws_cli_error(
        ep, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "demo-cluster",
        "--token", "not-a-jwt", env=node_env,
    )  # fmt: skip
    assert "InvalidTokenException" in stderr

    deleted = aws_cli(
        ep,
        "eks",
        "delete-pod-identity-association",
        "--cluster-name",
        "demo-cluster",
        "--association-id",
        assoc_id,
    )["association"]
    assert deleted["associationId"] == assoc_id
    assert "ResourceNotFoundException" in aws_cli_error(
        ep,
        "eks",
        "describe-pod-identity-association",
        "--cluster-name",
        "demo-cluster",
        "--association-id",
        assoc_id,
    )


def test_admin_without_node_permission_is_access_denied(ep: RunningEndpoint, world: dict[str, Any]) -> None:
    iam = ep.boto3_client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam.create_role(RoleName="bare-node", AssumeRolePolicyDocument=trust)
    bare = ep.boto3_client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/bare-node", RoleSessionName="i-1"
    )["Credentials"]
    with pytest.raises(ClientError) as err:
        node_client(ep, bare).assume_role_for_pod_identity(
            clusterName="demo-cluster", token=pod_token(ep, "demo-ns", "demo-sa")
        )
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_audit_log_has_the_inner_sts_event_without_the_token(
    ep: RunningEndpoint, world: dict[str, Any]
) -> None:
    records = ep.endpoint.audit.recent
    inner = [r for r in records if r.get("userIdentity", {}).get("invokedBy") == "pods.eks.amazonaws.com"]
    assert inner, "no STS AssumeRole record made by EKS Auth"
    assert inner[-1]["eventName"] == "AssumeRole"
    outer = [r for r in records if r.get("eventName") == "AssumeRoleForPodIdentity"]
    assert outer
    text = json.dumps(records)
    assert ".eyJ" not in text  # no JWT segment anywhere


def test_nodegroups_and_addons_via_boto3(ep: RunningEndpoint, world: dict[str, Any], tmp_path: Path) -> None:
    eks = ep.boto3_client("eks")
    ng = eks.create_nodegroup(
        clusterName="demo-cluster",
        nodegroupName="ng-1",
        nodeRole=f"arn:aws:iam::{ACCOUNT}:role/node-role",
        subnets=["subnet-1"],
        scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1},
    )["nodegroup"]
    assert ng["status"] == "CREATING"
    eks.get_waiter("nodegroup_active").wait(
        clusterName="demo-cluster", nodegroupName="ng-1", WaiterConfig={"Delay": 1, "MaxAttempts": 1}
    )
    addon = eks.create_addon(clusterName="demo-cluster", addonName="eks-pod-identity-agent")["addon"]
    assert addon["status"] == "CREATING"
    eks.get_waiter("addon_active").wait(
        clusterName="demo-cluster",
        addonName="eks-pod-identity-agent",
        WaiterConfig={"Delay": 1, "MaxAttempts": 1},
    )
    versions = eks.describe_addon_versions(addonName="eks-pod-identity-agent", kubernetesVersion="1.28")[
        "addons"
    ]
    assert versions[0]["addonVersions"]
    eks.delete_addon(clusterName="demo-cluster", addonName="eks-pod-identity-agent")
    eks.delete_nodegroup(clusterName="demo-cluster", nodegroupName="ng-1")
    assert eks.list_nodegroups(clusterName="demo-cluster")["nodegroups"] == []
