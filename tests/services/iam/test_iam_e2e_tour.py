"""Every IAM operation podid serves, once, through boto3: each response must parse with botocore."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import xform_name
from tests.services.iam.live_endpoint import ACCOUNT, RunningEndpoint, admin_client, running_endpoint

from podid.services.iam import IamProvider

pytestmark = pytest.mark.e2e

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
S3_RO = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def doc(action: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    )


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("iam-tour")) as ep:
        yield ep


def test_every_operation_round_trips(endpoint: RunningEndpoint) -> None:
    iam = admin_client(endpoint, "iam")
    called: set[str] = set()

    def call(operation: str, **kwargs: Any) -> Any:
        called.add(operation)
        return getattr(iam, xform_name(operation))(**kwargs)

    role = call(
        "CreateRole",
        RoleName="tour",
        AssumeRolePolicyDocument=TRUST,
        Path="/t/",
        Description="d",
        Tags=[{"Key": "a", "Value": "1"}],
    )["Role"]
    assert call("GetRole", RoleName="tour")["Role"]["Arn"] == role["Arn"]
    assert [r["RoleName"] for r in call("ListRoles", PathPrefix="/t/")["Roles"]] == ["tour"]
    call("UpdateRole", RoleName="tour", MaxSessionDuration=7200)
    assert call("UpdateRoleDescription", RoleName="tour", Description="new")["Role"]["Description"] == "new"
    call("UpdateAssumeRolePolicy", RoleName="tour", PolicyDocument=TRUST)
    call("TagRole", RoleName="tour", Tags=[{"Key": "b", "Value": "2"}])
    call("UntagRole", RoleName="tour", TagKeys=["a"])
    assert call("ListRoleTags", RoleName="tour")["Tags"] == [{"Key": "b", "Value": "2"}]
    call("PutRolePermissionsBoundary", RoleName="tour", PermissionsBoundary=S3_RO)
    assert call("GetRole", RoleName="tour")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == S3_RO
    call("DeleteRolePermissionsBoundary", RoleName="tour")
    call("AttachRolePolicy", RoleName="tour", PolicyArn=S3_RO)
    assert call("ListAttachedRolePolicies", RoleName="tour")["AttachedPolicies"][0]["PolicyArn"] == S3_RO
    call("PutRolePolicy", RoleName="tour", PolicyName="in", PolicyDocument=doc("s3:GetObject"))
    assert call("GetRolePolicy", RoleName="tour", PolicyName="in")["PolicyName"] == "in"
    assert call("ListRolePolicies", RoleName="tour")["PolicyNames"] == ["in"]

    user = call("CreateUser", UserName="tourist", Tags=[{"Key": "u", "Value": "1"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/tourist"
    assert call("GetUser", UserName="tourist")["User"]["UserId"] == user["UserId"]
    assert call("GetUser")["User"]["UserName"] == "admin"
    assert "tourist" in [u["UserName"] for u in call("ListUsers")["Users"]]
    call("TagUser", UserName="tourist", Tags=[{"Key": "v", "Value": "2"}])
    call("UntagUser", UserName="tourist", TagKeys=["u"])
    assert call("ListUserTags", UserName="tourist")["Tags"] == [{"Key": "v", "Value": "2"}]
    call("PutUserPermissionsBoundary", UserName="tourist", PermissionsBoundary=S3_RO)
    call("DeleteUserPermissionsBoundary", UserName="tourist")
    call("AttachUserPolicy", UserName="tourist", PolicyArn=S3_RO)
    assert len(call("ListAttachedUserPolicies", UserName="tourist")["AttachedPolicies"]) == 1
    call("PutUserPolicy", UserName="tourist", PolicyName="up", PolicyDocument=doc("sqs:*"))
    assert call("GetUserPolicy", UserName="tourist", PolicyName="up")["PolicyDocument"]["Statement"]
    assert call("ListUserPolicies", UserName="tourist")["PolicyNames"] == ["up"]
    key = call("CreateAccessKey", UserName="tourist")["AccessKey"]
    assert (
        call("ListAccessKeys", UserName="tourist")["AccessKeyMetadata"][0]["AccessKeyId"]
        == key["AccessKeyId"]
    )
    call("UpdateAccessKey", UserName="tourist", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    last = call("GetAccessKeyLastUsed", AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == "tourist"
    assert last["AccessKeyLastUsed"]["ServiceName"] == "N/A"

    policy = call(
        "CreatePolicy", PolicyName="tour-policy", PolicyDocument=doc("s3:GetObject"), Description="p"
    )["Policy"]
    arn = policy["Arn"]
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["Description"] == "p"
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("s3:PutObject"), SetAsDefault=False)
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v2")
    assert call("GetPolicyVersion", PolicyArn=arn, VersionId="v2")["PolicyVersion"]["IsDefaultVersion"]
    assert [v["VersionId"] for v in call("ListPolicyVersions", PolicyArn=arn)["Versions"]] == ["v2", "v1"]
    call("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    call("AttachRolePolicy", RoleName="tour", PolicyArn=arn)
    entities = call("ListEntitiesForPolicy", PolicyArn=arn)
    assert entities["PolicyRoles"] == [{"RoleName": "tour", "RoleId": role["RoleId"]}]
    assert any(p["Arn"] == arn for p in call("ListPolicies", Scope="Local", OnlyAttached=True)["Policies"])

    # OIDC identity providers (IRSA; behaviour tested in tests/services/irsa)
    oidc = call("CreateOpenIDConnectProvider", Url="https://oidc.example.com/id/T", ClientIDList=["a"])
    oidc_arn = oidc["OpenIDConnectProviderArn"]
    call("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=oidc_arn, ClientID="b")
    call("RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn=oidc_arn, ClientID="a")
    call(
        "UpdateOpenIDConnectProviderThumbprint", OpenIDConnectProviderArn=oidc_arn, ThumbprintList=["0" * 40]
    )
    call("TagOpenIDConnectProvider", OpenIDConnectProviderArn=oidc_arn, Tags=[{"Key": "k", "Value": "v"}])
    assert call("ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=oidc_arn)["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    call("UntagOpenIDConnectProvider", OpenIDConnectProviderArn=oidc_arn, TagKeys=["k"])
    got = call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=oidc_arn)
    assert (got["Url"], got["ClientIDList"]) == ("oidc.example.com/id/T", ["b"])
    assert call("ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == [{"Arn": oidc_arn}]
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=oidc_arn)

    # tear everything down again
    call("DetachRolePolicy", RoleName="tour", PolicyArn=arn)
    call("DeletePolicy", PolicyArn=arn)
    call("DetachRolePolicy", RoleName="tour", PolicyArn=S3_RO)
    call("DeleteRolePolicy", RoleName="tour", PolicyName="in")
    call("DeleteRole", RoleName="tour")
    call("DeleteAccessKey", UserName="tourist", AccessKeyId=key["AccessKeyId"])
    call("DetachUserPolicy", UserName="tourist", PolicyArn=S3_RO)
    call("DeleteUserPolicy", UserName="tourist", PolicyName="up")
    call("DeleteUser", UserName="tourist")

    assert called == set(IamProvider.declared_operations())
