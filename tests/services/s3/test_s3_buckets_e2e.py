"""Bucket operations through boto3 against a live endpoint: naming, regions, ownership, policy, tags."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.services.s3.s3_support import (
    OTHER_ACCOUNT,
    REGION,
    client,
    make_bucket,
    other_account_admin,
)
from tests.support.errors import error_code

from podid.gateway.testing import RunningEndpoint


def test_create_list_head_locate_delete(s3: Any) -> None:
    bucket = make_bucket(s3)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names
    listed = next(b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket)
    assert listed["BucketRegion"] == REGION
    head = s3.head_bucket(Bucket=bucket)
    assert head["BucketRegion"] == REGION
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as err:
        s3.get_bucket_location(Bucket=bucket)
    assert error_code(err.value) == "NoSuchBucket"
    assert err.value.response["Error"]["BucketName"] == bucket


@pytest.mark.parametrize(
    "name", ["ab", "UPPER-case", "has_underscore", "-leading", "trailing-", "a..b", "192.168.1.1", "xn--abc"]
)
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    assert error_code(err.value) == "InvalidBucketName"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_location_constraint_rules(s3: Any) -> None:
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="no-constraint-bucket")  # signed for us-west-2 without a constraint
    assert error_code(err.value) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(
            Bucket="other-region-bkt", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    assert error_code(err.value) == "IllegalLocationConstraintException"
    assert "eu-west-1" in err.value.response["Error"]["Message"]


def test_us_east_1_rules(ep: RunningEndpoint) -> None:
    east = ep.boto3_client("s3", region_name="us-east-1")
    east.create_bucket(Bucket="east-bucket-x1")
    assert east.get_bucket_location(Bucket="east-bucket-x1")["LocationConstraint"] is None
    east.create_bucket(Bucket="east-bucket-x1")  # us-east-1: re-creating your own bucket succeeds
    with pytest.raises(ClientError) as err:
        east.create_bucket(
            Bucket="east-bucket-x2", CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
        )
    assert error_code(err.value) == "InvalidLocationConstraint"
    east.delete_bucket(Bucket="east-bucket-x1")


def test_already_owned_and_already_exists(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    with pytest.raises(ClientError) as err:
        make_bucket(s3, bucket)
    assert error_code(err.value) == "BucketAlreadyOwnedByYou"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    key, secret = other_account_admin(ep)
    other = client(ep, "s3", key, secret)
    with pytest.raises(ClientError) as err:
        make_bucket(other, bucket)
    assert error_code(err.value) == "BucketAlreadyExists"
    assert bucket not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    # The other account's admin has AdministratorAccess but no bucket policy grants it anything.
    with pytest.raises(ClientError) as err:
        other.list_objects_v2(Bucket=bucket)
    assert error_code(err.value) == "AccessDenied"
    assert OTHER_ACCOUNT in err.value.response["Error"]["Message"]


def test_bucket_not_empty(s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(err.value) == "BucketNotEmpty"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_bucket_policy_round_trip_and_validation(s3: Any) -> None:
    bucket = make_bucket(s3)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_code(err.value) == "NoSuchBucketPolicy"
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    bad_resource = dict(policy, Statement=[dict(policy["Statement"][0], Resource="arn:aws:s3:::elsewhere/*")])
    for document, message in [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        (json.dumps(bad_resource), "Policy has invalid resource"),
    ]:
        with pytest.raises(ClientError) as err:
            s3.put_bucket_policy(Bucket=bucket, Policy=document)
        assert error_code(err.value) == "MalformedPolicy"
        assert err.value.response["Error"]["Message"] == message
    no_principal: dict[str, Any] = {"Version": "2012-10-17", "Statement": [dict(policy["Statement"][0])]}
    del no_principal["Statement"][0]["Principal"]
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(no_principal))
    assert error_code(err.value) == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)


def test_bucket_tagging(s3: Any) -> None:
    bucket = make_bucket(s3)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_code(err.value) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as err:
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}
        )
    assert error_code(err.value) == "InvalidTag"
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


def test_list_buckets_pagination_and_prefix(s3: Any) -> None:
    made = [make_bucket(s3, f"pg-bucket-{i}") for i in range(3)]
    page = s3.list_buckets(Prefix="pg-bucket-", MaxBuckets=2)
    assert [b["Name"] for b in page["Buckets"]] == made[:2]
    rest = s3.list_buckets(Prefix="pg-bucket-", MaxBuckets=2, ContinuationToken=page["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == made[2:]
    assert "ContinuationToken" not in rest


def test_default_settings_reads(s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="v/1", Body=b"x")
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert acl["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    assert s3.get_object_acl(Bucket=bucket, Key="v/1")["Owner"] == acl["Owner"]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [("v/1", "null", True)]
    assert s3.head_object(Bucket=bucket, Key="v/1")["ServerSideEncryption"] == "AES256"


def test_wrong_region_is_refused_and_botocore_follows(ep: RunningEndpoint, s3: Any) -> None:
    import urllib.error
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    eu = ep.boto3_client("s3", region_name="eu-central-1")
    eu.create_bucket(Bucket="eu-region-bkt", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    request = AWSRequest(method="GET", url=f"{ep.url}/eu-region-bkt?list-type=2")
    S3SigV4Auth(Credentials(ep.admin.access_key_id, ep.admin.secret_access_key), "s3", REGION).add_auth(
        request
    )
    prepared = request.prepare()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(prepared.url, headers=dict(prepared.headers)))
    assert err.value.code == 400
    assert err.value.headers["x-amz-bucket-region"] == "eu-central-1"
    body = err.value.read()
    assert b"<Code>AuthorizationHeaderMalformed</Code>" in body
    assert b"<Region>eu-central-1</Region>" in body
    # botocore re-signs for the bucket's region and retries (S3RegionRedirector), HEAD included.
    s3.put_object(Bucket="eu-region-bkt", Key="k", Body=b"redirected")
    assert s3.get_object(Bucket="eu-region-bkt", Key="k")["Body"].read() == b"redirected"
    assert ep.boto3_client("s3").head_object(Bucket="eu-region-bkt", Key="k")["ContentLength"] == 10
    assert ep.boto3_client("s3").head_bucket(Bucket="eu-region-bkt")["BucketRegion"] == "eu-central-1"
    # SigV2 presigned URLs carry no region and are served wherever the bucket lives.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "eu-region-bkt", "Key": "k"})
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"redirected"


def test_expected_bucket_owner(ep: RunningEndpoint, s3: Any) -> None:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner=ep.admin.account_id)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=OTHER_ACCOUNT)
    assert error_code(err.value) == "AccessDenied"
