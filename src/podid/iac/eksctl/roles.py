"""The IAM roles eksctl creates: the cluster service role, node roles and Pod Identity roles.

Names follow the shape of the roles eksctl's CloudFormation stacks create
(`eksctl-<cluster>-cluster-ServiceRole-<12 random>`, `eksctl-<cluster>-nodegroup-<ng>-NodeInstanceRole-...`,
`eksctl-<cluster>-podidentityrole-<ns>-<sa>-Role1-...`), cut to IAM's 64 characters. Every such role
is tagged `alpha.eksctl.io/cluster-name` (as eksctl tags its stacks' resources) and
`podid.dev/eksctl-role` = what it is for, so that `delete cluster` and
`delete podidentityassociation` delete exactly the roles eksctl made and never a role the user gave.

Well-known policies: AWS managed policies where AWS has one (ebsCSIController, efsCSIController,
imageBuilder); autoScaler, externalDNS, certManager and awsLoadBalancerController become one inline
policy each with the actions eksctl grants (the load balancer controller's list is abridged to its
action families).
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

CLUSTER_TAG = "alpha.eksctl.io/cluster-name"
ROLE_TAG = "podid.dev/eksctl-role"

TRUST_EKS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["eks.amazonaws.com"]},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}
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

CLUSTER_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController",
)
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)

WELL_KNOWN_MANAGED = {
    "ebsCSIController": "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    "efsCSIController": "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy",
    "imageBuilder": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
}
WELL_KNOWN_INLINE: dict[str, list[dict[str, Any]]] = {
    "autoScaler": [
        {
            "Effect": "Allow",
            "Action": [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:DescribeImages",
                "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup",
            ],
            "Resource": "*",
        }
    ],
    "externalDNS": [
        {
            "Effect": "Allow",
            "Action": ["route53:ChangeResourceRecordSets"],
            "Resource": "arn:aws:route53:::hostedzone/*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "route53:ListHostedZones",
                "route53:ListResourceRecordSets",
                "route53:ListTagsForResource",
            ],
            "Resource": "*",
        },
    ],
    "certManager": [
        {"Effect": "Allow", "Action": ["route53:GetChange"], "Resource": "arn:aws:route53:::change/*"},
        {
            "Effect": "Allow",
            "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
            "Resource": "arn:aws:route53:::hostedzone/*",
        },
        {"Effect": "Allow", "Action": ["route53:ListHostedZonesByName"], "Resource": "*"},
    ],
    "awsLoadBalancerController": [
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:*",
                "ec2:Describe*",
                "ec2:CreateSecurityGroup",
                "ec2:CreateTags",
                "ec2:DeleteTags",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:*",
                "wafv2:*",
                "shield:*",
                "cognito-idp:DescribeUserPoolClient",
            ],
            "Resource": "*",
        }
    ],
}


def generated_name(base: str) -> str:
    """`base` + `-` + 12 random characters, CloudFormation's physical-name shape, within 64."""
    suffix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))
    return f"{base[: 64 - 13]}-{suffix}"


class RoleMaker:
    """Creates and deletes eksctl's roles through the IAM API (a botocore `iam` client)."""

    def __init__(self, iam: Any, cluster: str) -> None:
        self.iam = iam
        self.cluster = cluster

    def create(
        self,
        name: str,
        trust: dict[str, Any],
        purpose: str,
        managed: tuple[str, ...] = (),
        inline: dict[str, dict[str, Any]] | None = None,
        boundary: str = "",
        tags: dict[str, str] | None = None,
    ) -> str:
        all_tags = {CLUSTER_TAG: self.cluster, ROLE_TAG: purpose, **(tags or {})}
        kwargs: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": json.dumps(trust),
            "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()],
        }
        if boundary:
            kwargs["PermissionsBoundary"] = boundary
        arn = str(self.iam.create_role(**kwargs)["Role"]["Arn"])
        for policy in managed:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        for policy_name, document in (inline or {}).items():
            self.iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
            )
        return arn

    def pod_identity_role(
        self,
        namespace: str,
        service_account: str,
        role_name: str,
        policy_arns: tuple[str, ...],
        permission_policy: dict[str, Any] | None,
        well_known: tuple[str, ...],
        boundary: str,
        tags: dict[str, str],
        purpose: str,
    ) -> str:
        name = role_name or generated_name(
            f"eksctl-{self.cluster}-podidentityrole-{namespace}-{service_account}-Role1"
        )
        managed = tuple(policy_arns) + tuple(
            WELL_KNOWN_MANAGED[w] for w in well_known if w in WELL_KNOWN_MANAGED
        )
        inline: dict[str, dict[str, Any]] = {}
        if permission_policy:
            inline["Policy1"] = permission_policy
        for w in well_known:
            if w in WELL_KNOWN_INLINE:
                inline[f"PolicyWellKnown{w[0].upper()}{w[1:]}"] = {
                    "Version": "2012-10-17",
                    "Statement": WELL_KNOWN_INLINE[w],
                }
        return self.create(name, TRUST_PODS, purpose, managed, inline, boundary, tags)

    def owned(self, purpose_prefix: str = "") -> list[str]:
        """Names of the roles eksctl made for this cluster (optionally only those for `purpose_prefix`)."""
        found: list[str] = []
        paginator = self.iam.get_paginator("list_roles")
        for page in paginator.paginate():
            for role in page["Roles"]:
                name = role["RoleName"]
                tags = {t["Key"]: t["Value"] for t in self.iam.list_role_tags(RoleName=name)["Tags"]}
                if tags.get(CLUSTER_TAG) != self.cluster or ROLE_TAG not in tags:
                    continue
                purpose = tags[ROLE_TAG]
                if (
                    not purpose_prefix
                    or purpose == purpose_prefix
                    or purpose.startswith(purpose_prefix + "/")
                ):
                    found.append(name)
        return found

    def delete(self, name: str) -> None:
        """Detach managed policies, delete inline ones, then the role (IAM refuses otherwise)."""
        for page in self.iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for policy in page["AttachedPolicies"]:
                self.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for page in self.iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        self.iam.delete_role(RoleName=name)
