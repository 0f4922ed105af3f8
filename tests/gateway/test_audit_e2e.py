"""The audit log records every request with the authorization checks made for it, wherever made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from podid.gateway.testing import running_endpoint


def _last(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return [r for r in records if r["eventName"] == name][-1]


def test_audit_lists_gateway_and_handler_checks(tmp_path: Path) -> None:
    with running_endpoint(tmp_path) as ep:
        iam = ep.boto3_client("iam")
        s3 = ep.boto3_client("s3")
        iam.create_user(UserName="nobody")
        s3.create_bucket(Bucket="audit-bkt", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        s3.put_object(Bucket="audit-bkt", Key="a/b.txt", Body=b"x")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        stranger = ep.boto3_client(
            "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        with pytest.raises(ClientError):
            stranger.get_user(UserName="admin")
        records = ep.call(lambda: list(ep.endpoint.audit.recent))

    create_user = _last(records, "CreateUser")
    assert create_user["actions"] == [
        {"action": "iam:CreateUser", "resource": "arn:aws:iam::111122223333:user/nobody"}
    ]
    assert create_user["userIdentity"]["arn"] == "arn:aws:iam::111122223333:user/admin"
    assert create_user["decision"] == "Allowed"

    put = _last(records, "PutObject")  # S3 authorizes inside its handler
    assert {"action": "s3:PutObject", "resource": "arn:aws:s3:::audit-bkt/a/b.txt"} in put["actions"]

    denied = _last(records, "GetUser")
    assert denied["decision"] == "Denied"
    assert denied["errorCode"] == "AccessDenied"
    assert denied["httpStatus"] == 403
    assert denied["userIdentity"]["arn"] == "arn:aws:iam::111122223333:user/nobody"
