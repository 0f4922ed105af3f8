"""S3 authorization through the policy engine: identity policies, bucket policies, condition keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.services.s3.s3_support import (
    OTHER_ACCOUNT,
    client,
    make_bucket,
    other_account_admin,
    role_session,
    session_client,
)
from tests.support.errors import error_code

from podid.gateway.testing import RunningEndpoint

NS = "kubernetes-namespace"
READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert error_code(err.value) == "AccessDenied", err.value.response
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(err.value.response["Error"].get("Message", ""))


def test_read_only_role(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"readable")
    creds = role_session(ep, [READ_ONLY])
    ro = session_client(ep, creds)
    assert bucket in [b["Name"] for b in ro.list_buckets()["Buckets"]]
    assert ro.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"readable"
    assert ro.head_object(Bucket=bucket, Key="doc.txt")["ContentLength"] == 8
    assert ro.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    session_arn = creds["role_arn"].replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/sess"
    message = denied(
        lambda: ro.create_bucket(
            Bucket="ro-new-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
    )
    assert message == (
        f"User: {session_arn} is not authorized to perform: s3:CreateBucket on resource: "
        '"arn:aws:s3:::ro-new-bucket" because no identity-based policy allows the s3:CreateBucket action'
    )
    message = denied(lambda: ro.put_object(Bucket=bucket, Key="new", Body=b"x"))
    assert f'on resource: "arn:aws:s3:::{bucket}/new"' in message
    denied(lambda: ro.delete_object(Bucket=bucket, Key="doc.txt"))
    out = ro.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "doc.txt"}]})
    assert out["Errors"][0]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"readable"


def test_missing_key_without_list_permission_is_access_denied(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    only_get = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    getter = session_client(ep, role_session(ep, inline=only_get))
    message = denied(lambda: getter.get_object(Bucket=bucket, Key="absent"))
    assert "s3:ListBucket" in message
    lister = session_client(ep, role_session(ep, [READ_ONLY]))
    with pytest.raises(ClientError) as err:
        lister.get_object(Bucket=bucket, Key="absent")
    assert error_code(err.value) == "NoSuchKey"


def test_bucket_policy_grants_another_account(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="shared/a.txt", Body=b"shared")
    key, secret = other_account_admin(ep)
    other = client(ep, "s3", key, secret)
    denied(lambda: other.get_object(Bucket=bucket, Key="shared/a.txt"))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": ["s3:GetObject"],
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert other.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read() == b"shared"
    denied(lambda: other.put_object(Bucket=bucket, Key="shared/b.txt", Body=b"x"))
    denied(lambda: other.list_objects_v2(Bucket=bucket))
    # Cross-account needs both sides: an identity in the other account without permissions is refused.
    other_iam = client(ep, "iam", key, secret)
    other_iam.create_user(UserName="nobody")
    nobody = other_iam.create_access_key(UserName="nobody")["AccessKey"]
    weak = client(ep, "s3", nobody["AccessKeyId"], nobody["SecretAccessKey"])
    denied(lambda: weak.get_object(Bucket=bucket, Key="shared/a.txt"))


def test_explicit_deny_in_bucket_policy_beats_identity_allow(s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    message = denied(lambda: s3.delete_object(Bucket=bucket, Key="keep"))  # admin has AdministratorAccess
    assert message.endswith("with an explicit deny in a resource-based policy")
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"x"


def test_prefix_condition_limits_listing(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    for key in ("home/alice/1", "home/bob/1"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["home/alice/*"]}},
            }
        ],
    }
    alice = session_client(ep, role_session(ep, inline=policy))
    listed = alice.list_objects_v2(Bucket=bucket, Prefix="home/alice/")
    assert [o["Key"] for o in listed["Contents"]] == ["home/alice/1"]
    denied(lambda: alice.list_objects_v2(Bucket=bucket, Prefix="home/bob/"))
    denied(lambda: alice.list_objects_v2(Bucket=bucket))


def test_abac_principal_tag_and_existing_object_tag(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"team a", Tagging="kubernetes-namespace=team-a")
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"team b", Tagging="kubernetes-namespace=team-b")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {f"s3:ExistingObjectTag/{NS}": f"${{aws:PrincipalTag/{NS}}}"}},
            }
        ],
    }
    pod = session_client(ep, role_session(ep, inline=policy, session_tags={"kubernetes-namespace": "team-a"}))
    assert pod.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"team a"
    denied(lambda: pod.get_object(Bucket=bucket, Key="b.txt"))


def test_request_object_tag_condition_on_put(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"s3:RequestObjectTag/env": "dev"}},
            }
        ],
    }
    writer = session_client(ep, role_session(ep, inline=policy))
    writer.put_object(Bucket=bucket, Key="ok", Body=b"x", Tagging="env=dev")
    denied(lambda: writer.put_object(Bucket=bucket, Key="no", Body=b"x", Tagging="env=prod"))
    denied(lambda: writer.put_object(Bucket=bucket, Key="no", Body=b"x"))
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok"]


def test_secure_transport_and_source_ip_conditions(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    reader = session_client(ep, role_session(ep, [READ_ONLY]))
    ip_policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(ip_policy))
    denied(lambda: reader.get_object(Bucket=bucket, Key="k"))  # we call from 127.0.0.1
    ip_policy["Statement"][0]["Condition"] = {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(ip_policy))
    assert reader.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    tls_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_policy))  # the owner's admin is not root
    message = denied(lambda: reader.list_objects_v2(Bucket=bucket))
    assert message.endswith("with an explicit deny in a resource-based policy")
    denied(lambda: s3.get_bucket_policy(Bucket=bucket))  # locked out over plain http, as in AWS


def test_resource_tag_condition_on_buckets(ep: RunningEndpoint, s3: Any) -> None:
    blue, red = make_bucket(s3), make_bucket(s3)
    s3.put_bucket_tagging(Bucket=blue, Tagging={"TagSet": [{"Key": "team", "Value": "blue"}]})
    s3.put_bucket_tagging(Bucket=red, Tagging={"TagSet": [{"Key": "team", "Value": "red"}]})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
            }
        ],
    }
    member = session_client(ep, role_session(ep, inline=policy, session_tags={"team": "blue"}))
    assert member.list_objects_v2(Bucket=blue)["KeyCount"] == 0
    denied(lambda: member.list_objects_v2(Bucket=red))
