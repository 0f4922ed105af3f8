"""IAM end to end: boto3 and the aws CLI v1 (subprocess) against a real podid endpoint on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from tests.services.iam.live_endpoint import (
    ACCOUNT,
    RunningEndpoint,
    admin_client,
    aws_cli,
    client,
    running_endpoint,
)
from tests.support.errors import error_of

pytestmark = pytest.mark.e2e

WALKTHROUGH_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("iam-e2e")) as ep:
        yield ep


@pytest.fixture(scope="module")
def iam(endpoint: RunningEndpoint) -> Any:
    return admin_client(endpoint, "iam")


def client_without_validation(model_client: Any) -> Any:
    """The same client with botocore's own parameter checks off, to reach the server's."""
    creds = model_client._request_signer._credentials
    return boto3.client(
        "iam",
        endpoint_url=model_client.meta.endpoint_url,
        region_name=model_client.meta.region_name,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        config=Config(parameter_validation=False),
    )


def test_walkthrough_with_the_aws_cli(endpoint: RunningEndpoint, tmp_path: Path) -> None:
    (tmp_path / "eks-pod-identity-trust-policy.json").write_text(json.dumps(WALKTHROUGH_TRUST, indent=1))
    created = aws_cli(
        endpoint,
        "iam",
        "create-role",
        "--role-name",
        "s3-app-eks-pod-identity-role",
        "--assume-role-policy-document",
        "file://eks-pod-identity-trust-policy.json",
        "--output",
        "text",
        "--query",
        "Role.Arn",
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"arn:aws:iam::{ACCOUNT}:role/s3-app-eks-pod-identity-role"
    attached = aws_cli(
        endpoint,
        "iam",
        "attach-role-policy",
        "--role-name",
        "s3-app-eks-pod-identity-role",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    )
    assert attached.returncode == 0, attached.stderr
    shown = aws_cli(endpoint, "iam", "get-role", "--role-name", "s3-app-eks-pod-identity-role")
    assert shown.returncode == 0, shown.stderr
    role = json.loads(shown.stdout)["Role"]
    assert role["AssumeRolePolicyDocument"] == WALKTHROUGH_TRUST
    assert role["RoleId"].startswith("AROA")
    listed = aws_cli(
        endpoint, "iam", "list-attached-role-policies", "--role-name", "s3-app-eks-pod-identity-role"
    )
    assert json.loads(listed.stdout)["AttachedPolicies"] == [
        {
            "PolicyName": "AmazonS3ReadOnlyAccess",
            "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        }
    ]
    again = aws_cli(
        endpoint,
        "iam",
        "create-role",
        "--role-name",
        "S3-APP-EKS-POD-IDENTITY-ROLE",
        "--assume-role-policy-document",
        "file://eks-pod-identity-trust-policy.json",
        cwd=tmp_path,
    )
    assert again.returncode != 0
    assert "EntityAlreadyExists" in again.stderr


def test_role_lifecycle_and_errors(iam: Any) -> None:
    trust = json.dumps(WALKTHROUGH_TRUST)
    role = iam.create_role(
        RoleName="life",
        AssumeRolePolicyDocument=trust,
        Path="/svc/",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "a"}],
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/life"
    assert role["MaxSessionDuration"] == 7200
    assert error_of(iam.get_role, RoleName="missing") == (
        "NoSuchEntity",
        404,
        "The role with name missing cannot be found.",
    )
    assert error_of(iam.create_role, RoleName="life", AssumeRolePolicyDocument=trust)[:2] == (
        "EntityAlreadyExists",
        409,
    )
    assert error_of(iam.create_role, RoleName="bad", AssumeRolePolicyDocument="{nope")[:2] == (
        "MalformedPolicyDocument",
        400,
    )
    assert error_of(
        iam.attach_role_policy, RoleName="life", PolicyArn="arn:aws:iam::aws:policy/NoSuchThing"
    ) == (
        "NoSuchEntity",
        404,
        "Policy arn:aws:iam::aws:policy/NoSuchThing does not exist or is not attachable.",
    )
    assert error_of(iam.attach_role_policy, RoleName="life", PolicyArn="arn:aws:iam::aws:NotAnArn")[:2] == (
        "InvalidInput",
        400,
    )
    iam.put_role_policy(
        RoleName="life",
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    got = iam.get_role_policy(RoleName="life", PolicyName="inline")
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "s3:GetObject"  # URL-encoded on the wire
    assert error_of(iam.delete_role, RoleName="life") == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    )
    iam.delete_role_policy(RoleName="life", PolicyName="inline")
    iam.tag_role(RoleName="life", Tags=[{"Key": "env", "Value": "dev"}])
    assert {t["Key"] for t in iam.list_role_tags(RoleName="life")["Tags"]} == {"team", "env"}
    iam.update_role(RoleName="life", Description="desc", MaxSessionDuration=3600)
    assert iam.get_role(RoleName="life")["Role"]["Description"] == "desc"
    unchecked = client_without_validation(iam)
    code, status, message = error_of(unchecked.update_role, RoleName="life", MaxSessionDuration=100)
    assert (code, status) == ("ValidationError", 400)
    assert "maxSessionDuration" in message
    iam.delete_role(RoleName="life")


def test_list_roles_paginates(iam: Any) -> None:
    trust = json.dumps(WALKTHROUGH_TRUST)
    for i in range(5):
        iam.create_role(RoleName=f"page-{i}", AssumeRolePolicyDocument=trust, Path="/paging/")
    pages = iam.get_paginator("list_roles").paginate(PathPrefix="/paging/", PaginationConfig={"PageSize": 2})
    names = [r["RoleName"] for page in pages for r in page["Roles"]]
    assert names == [f"page-{i}" for i in range(5)]


def test_customer_managed_policy_versions(iam: Any) -> None:
    def doc(action: str) -> str:
        return json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
        )

    arn = iam.create_policy(PolicyName="versions", PolicyDocument=doc("s3:GetObject"))["Policy"]["Arn"]
    for i in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(f"s3:Put{i}"), SetAsDefault=i == 0)
    assert error_of(iam.create_policy_version, PolicyArn=arn, PolicyDocument=doc("s3:X"))[:2] == (
        "LimitExceeded",
        409,
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == "s3:Put0"
    assert error_of(iam.delete_policy_version, PolicyArn=arn, VersionId="v2")[:2] == ("DeleteConflict", 409)
    local = iam.list_policies(Scope="Local")["Policies"]
    assert [p["Arn"] for p in local] == [arn]
    aws = iam.list_policies(Scope="AWS", MaxItems=5)
    assert aws["IsTruncated"]
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws["Policies"])
    s3 = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")["Policy"]
    default = iam.get_policy_version(PolicyArn=s3["Arn"], VersionId=s3["DefaultVersionId"])["PolicyVersion"]
    assert "s3:Get*" in default["Document"]["Statement"][0]["Action"]


def test_users_keys_and_inactive_keys(endpoint: RunningEndpoint, iam: Any) -> None:
    iam.create_user(UserName="worker")
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    iam.create_access_key(UserName="worker")
    assert error_of(iam.create_access_key, UserName="worker") == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for AccessKeysPerUser: 2",
    )
    worker_sts = client(endpoint, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert worker_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/worker"
    worker_iam = client(endpoint, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    code, status, message = error_of(worker_iam.list_roles)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/worker is not authorized to perform: iam:ListRoles"
    )
    assert error_of(worker_iam.get_user)[:2] == ("AccessDenied", 403)  # even about oneself
    iam.update_access_key(UserName="worker", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_of(worker_sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
    assert error_of(iam.delete_user, UserName="worker")[:2] == ("DeleteConflict", 409)
