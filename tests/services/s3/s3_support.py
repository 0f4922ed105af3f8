"""Helpers for S3 tests against a live endpoint: role sessions, other accounts, CLI runs, raw requests."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from podid.gateway.testing import RunningEndpoint

REGION = "us-west-2"
OTHER_ACCOUNT = "444455556666"


def client(
    ep: RunningEndpoint, service: str, key: str, secret: str, token: str | None = None, **config: Any
) -> Any:
    return ep.client(service, key, secret, token, **config)


def other_account_admin(ep: RunningEndpoint, account: str = OTHER_ACCOUNT) -> tuple[str, str]:
    """Access key of the administrator user of a second account on the same endpoint."""
    iam = ep.endpoint.services.iam
    result: tuple[str, str] = ep.call(lambda: iam.bootstrap_admin(account))
    return result


def role_session(
    ep: RunningEndpoint,
    policy_arns: list[str] = (),  # type: ignore[assignment]
    inline: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    session_tags: dict[str, str] | None = None,
) -> dict[str, str]:
    """Create a role in the admin's account (trusting that account), assume it, return credentials."""
    iam = ep.boto3_client("iam")
    name = "r-" + uuid.uuid4().hex[:10]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ep.admin.account_id}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(trust),
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )["Role"]
    for arn in policy_arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    if inline is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    sts = ep.boto3_client("sts")
    kwargs: dict[str, Any] = {"RoleArn": role["Arn"], "RoleSessionName": "sess"}
    if session_tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in session_tags.items()]
    creds = sts.assume_role(**kwargs)["Credentials"]
    return {
        "key": creds["AccessKeyId"],
        "secret": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
        "role_arn": role["Arn"],
    }


def session_client(ep: RunningEndpoint, creds: dict[str, str], service: str = "s3") -> Any:
    return client(ep, service, creds["key"], creds["secret"], creds["token"])


def aws_cli(
    ep: RunningEndpoint, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The aws CLI v1 of the venv, as a separate process, against the endpoint."""
    return ep.aws(*args, env=env, cwd=cwd)


def make_bucket(s3: Any, name: str | None = None) -> str:
    bucket = name or "bkt-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return bucket
