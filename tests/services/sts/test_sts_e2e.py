"""STS end to end: boto3 and the aws CLI v1 against a real podid endpoint; every refusal's code/status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from tests.services.iam.live_endpoint import (
    ACCOUNT,
    RunningEndpoint,
    admin_client,
    aws_cli,
    client,
    running_endpoint,
)
from tests.support.errors import error_of

from podid.services.sts.token import SessionToken

pytestmark = pytest.mark.e2e


def trust(principal: dict[str, Any], actions: list[str]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": actions}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("sts-e2e")) as ep:
        iam = admin_client(ep, "iam")
        admin_arn = f"arn:aws:iam::{ACCOUNT}:user/admin"
        iam.create_role(
            RoleName="app",
            Path="/apps/",
            AssumeRolePolicyDocument=trust({"AWS": admin_arn}, ["sts:AssumeRole", "sts:TagSession"]),
        )
        iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        iam.create_role(
            RoleName="no-tags", AssumeRolePolicyDocument=trust({"AWS": admin_arn}, ["sts:AssumeRole"])
        )
        iam.create_role(
            RoleName="pods-only",
            AssumeRolePolicyDocument=trust({"Service": "pods.eks.amazonaws.com"}, ["sts:AssumeRole"]),
        )
        yield ep


@pytest.fixture(scope="module")
def sts(endpoint: RunningEndpoint) -> Any:
    return admin_client(endpoint, "sts")


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/apps/app" if name == "app" else f"arn:aws:iam::{ACCOUNT}:role/{name}"


def test_assume_role_then_caller_identity(endpoint: RunningEndpoint, sts: Any) -> None:
    out = sts.assume_role(
        RoleArn=role_arn("app"),
        RoleSessionName="e2e",
        DurationSeconds=900,
        Tags=[{"Key": "team", "Value": "a"}],
        TransitiveTagKeys=["team"],
    )
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/e2e"
    assert 0 < out["PackedPolicySize"] <= 100
    session = client(endpoint, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    me = session.get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/e2e"
    assert me["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    assert me["Account"] == ACCOUNT
    # the session has the role's permissions (S3 read-only) and nothing more
    iam_as_session = client(
        endpoint, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    code, status, message = error_of(iam_as_session.list_roles)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app/e2e is not authorized")


def test_assume_role_with_the_aws_cli(endpoint: RunningEndpoint) -> None:
    assumed = aws_cli(
        endpoint, "sts", "assume-role", "--role-arn", role_arn("app"), "--role-session-name", "cli"
    )
    assert assumed.returncode == 0, assumed.stderr
    creds = json.loads(assumed.stdout)["Credentials"]
    me = aws_cli(
        endpoint,
        "sts",
        "get-caller-identity",
        key=creds["AccessKeyId"],
        secret=creds["SecretAccessKey"],
        token=creds["SessionToken"],
    )
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/cli"
    denied = aws_cli(
        endpoint, "sts", "assume-role", "--role-arn", role_arn("pods-only"), "--role-session-name", "xx"
    )
    assert denied.returncode != 0
    assert "AccessDenied" in denied.stderr


def test_refusals(sts: Any) -> None:
    code, status, message = error_of(sts.assume_role, RoleArn=role_arn("pods-only"), RoleSessionName="ss")
    assert (code, status) == ("AccessDenied", 403)
    assert f"not authorized to perform: sts:AssumeRole on resource: {role_arn('pods-only')}" in message
    code, status, message = error_of(
        sts.assume_role, RoleArn=role_arn("no-tags"), RoleSessionName="ss", Tags=[{"Key": "k", "Value": "v"}]
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "sts:TagSession" in message
    assert error_of(sts.assume_role, RoleArn=role_arn("app"), RoleSessionName="ss", Policy="{nope")[:2] == (
        "MalformedPolicyDocument",
        400,
    )
    code, status, message = error_of(
        sts.assume_role, RoleArn=role_arn("app"), RoleSessionName="ss", DurationSeconds=7200
    )
    assert (code, status) == ("ValidationError", 400)
    assert message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    assert error_of(sts.assume_role, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/missing", RoleSessionName="ss")[
        :2
    ] == ("AccessDenied", 403)


def test_tampered_and_expired_tokens(endpoint: RunningEndpoint, sts: Any) -> None:
    creds = sts.assume_role(RoleArn=role_arn("app"), RoleSessionName="tok")["Credentials"]
    token = creds["SessionToken"]
    flipped = token[:40] + ("B" if token[40] != "B" else "C") + token[41:]
    tampered = client(endpoint, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], flipped)
    code, status, _ = error_of(tampered.get_caller_identity)
    assert (code, status) == ("InvalidClientTokenId", 403)
    # an expired token, minted with the endpoint's own key (as if the session had run out)
    domain = endpoint.endpoint.services.sts

    def mint_expired() -> str:
        decoded = domain.decode_token(token)
        past = replace(decoded.session, expiration=endpoint.endpoint.clock.now() - timedelta(seconds=1))
        return str(
            domain.codec.encode(SessionToken(decoded.access_key_id, decoded.secret_access_key, ACCOUNT, past))
        )

    expired = endpoint.call(mint_expired)
    stale = client(endpoint, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], expired)
    code, status, message = error_of(stale.get_caller_identity)
    assert (code, status) == ("ExpiredToken", 403)
    assert "expired" in message
    # the temporary key without its token
    bare = client(endpoint, "sts", creds["AccessKeyId"], creds["SecretAccessKey"])
    assert error_of(bare.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
