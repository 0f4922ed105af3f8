"""A Pod Identity world on a real podid endpoint: cluster, pod role, association, node role session."""

from __future__ import annotations

import json
import uuid
from typing import Any

from podid.gateway.testing import RunningEndpoint

ACCOUNT = "111122223333"
REGION = "us-west-2"
CLUSTER = "demo-cluster"
POD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


def make_world(ep: RunningEndpoint) -> dict[str, Any]:
    """The walkthrough's objects; returns the node role's session credentials under "node"."""
    iam = ep.boto3_client("iam")
    eks = ep.boto3_client("eks")
    cluster_role = iam.create_role(RoleName="cluster-role", AssumeRolePolicyDocument=json.dumps(POD_TRUST))
    eks.create_cluster(
        name=CLUSTER,
        version="1.30",
        roleArn=cluster_role["Role"]["Arn"],
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )
    pod_role = iam.create_role(RoleName="demo-app-role", AssumeRolePolicyDocument=json.dumps(POD_TRUST))
    eks.create_pod_identity_association(
        clusterName=CLUSTER, namespace="demo", serviceAccount="app", roleArn=pod_role["Role"]["Arn"]
    )
    node_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="node-role", AssumeRolePolicyDocument=json.dumps(node_trust))
    worker = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "eks-auth:AssumeRoleForPodIdentity", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="node-role", PolicyName="worker", PolicyDocument=json.dumps(worker))
    node = ep.boto3_client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/node-role", RoleSessionName="i-0123456789abcdef0"
    )["Credentials"]
    return {"node": node}


def pod_token(
    ep: RunningEndpoint, namespace: str = "demo", sa: str = "app", pod_uid: str | None = None
) -> str:
    eks = ep.endpoint.services.eks

    def issue() -> str:
        cluster = eks.cluster_by_name(ACCOUNT, REGION, CLUSTER)
        return str(
            eks.issuer_for(cluster).issue(
                namespace,
                sa,
                audience=["pods.eks.amazonaws.com"],
                duration_s=86400,
                pod_name="app-1",
                pod_uid=pod_uid or str(uuid.uuid4()),
                now=ep.endpoint.clock.now(),
            )
        )

    return ep.call(issue)


def node_env(node: dict[str, Any]) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": node["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": node["SecretAccessKey"],
        "AWS_SESSION_TOKEN": node["SessionToken"],
    }
