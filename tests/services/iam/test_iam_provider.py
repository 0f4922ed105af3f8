"""The IAM and STS providers against botocore's models: operation names, authorization declarations."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import botocore.session
import pytest
from tests.services.iam.iam_helpers import ACCOUNT, trust_for

from podid.errors import AwsError
from podid.services.base import Call, Principal
from podid.services.iam import IamDomain, IamProvider
from podid.services.iam.authorizer import Authorizer
from podid.services.sts import StsDomain, StsProvider

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def admin_call(iam: IamDomain, operation: str, service: str = "iam") -> Call:
    iam.bootstrap_admin(ACCOUNT)
    user = iam.get_user(ACCOUNT, "admin")
    principal = Principal("user", user.arn, ACCOUNT, user.user_id, user.name, "AKIAEXAMPLE")
    return Call("r", service, operation, "us-west-2", principal, NOW)


def test_iam_operations_exist_in_the_model_and_declare_their_action(iam: IamDomain) -> None:
    model = botocore.session.get_session().get_service_model("iam")
    operations = IamProvider(iam).operations()
    assert len(operations) >= 50
    iam.create_role(ACCOUNT, "r", trust_for({"Service": "ec2.amazonaws.com"}), path="/p/", tags=[("t", "v")])
    iam.create_user(ACCOUNT, "u")
    params = {
        "RoleName": "r",
        "UserName": "u",
        "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "Tags": [{"Key": "k", "Value": "v"}],
        "PolicyName": "p",
    }
    for name, spec in operations.items():
        assert name in model.operation_names, name
        assert spec.authz is not None, name
        checks = spec.authz(admin_call(iam, name), params)
        assert [c.action for c in checks] == [f"iam:{name}"], name
    role_checks = operations["GetRole"].authz(admin_call(iam, "GetRole"), params)  # type: ignore[misc]
    assert role_checks[0].resource == f"arn:aws:iam::{ACCOUNT}:role/p/r"  # with the role's path
    assert role_checks[0].context["iam:ResourceTag/t"] == "v"
    create = operations["CreateRole"].authz(  # type: ignore[misc]
        admin_call(iam, "CreateRole"), {"RoleName": "n", "Path": "/a/", "Tags": params["Tags"]}
    )
    assert create[0].resource == f"arn:aws:iam::{ACCOUNT}:role/a/n"
    assert create[0].context["aws:RequestTag/k"] == "v"
    assert create[0].context["aws:TagKeys"] == ["k"]
    attach = operations["AttachRolePolicy"].authz(admin_call(iam, "AttachRolePolicy"), params)  # type: ignore[misc]
    assert attach[0].context["iam:PolicyARN"] == params["PolicyArn"]


def test_unbound_declarations_fail_closed(iam: IamDomain) -> None:
    declared = IamProvider.declared_operations()["DeleteRole"]
    assert declared.authz is not None
    with pytest.raises(AwsError) as err:
        declared.authz(admin_call(iam, "DeleteRole"), {"RoleName": "r"})
    assert err.value.status == 500


def test_sts_operations(iam: IamDomain) -> None:
    model = botocore.session.get_session().get_service_model("sts")
    sts = StsDomain(iam, iam.clock, os.urandom(32))
    provider = StsProvider(sts, Authorizer(iam).authorize)
    operations = provider.operations()
    assert set(operations) == {"AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity"}
    assert set(operations) <= set(model.operation_names)
    assert all(spec.authz is None for spec in operations.values())  # authorized inside AssumeRole


def test_mfa_codes_are_refused(iam: IamDomain) -> None:
    arn = iam.create_role(ACCOUNT, "r", trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})).arn
    provider = StsProvider(StsDomain(iam, iam.clock, os.urandom(32)), Authorizer(iam).authorize)
    call = admin_call(iam, "AssumeRole", "sts")
    with pytest.raises(AwsError) as err:
        provider.assume_role(
            call,
            {
                "RoleArn": arn,
                "RoleSessionName": "ss",
                "SerialNumber": "arn:aws:iam::1:mfa/x",
                "TokenCode": "1",
            },
        )
    assert err.value.code == "AccessDenied"
    out = provider.assume_role(call, {"RoleArn": arn, "RoleSessionName": "ss"})
    assert isinstance(out, dict)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/r/ss"
    assert "PackedPolicySize" not in out
    last = iam.get_role(ACCOUNT, "r")
    assert last.last_used == call.now
    assert last.last_used_region == "us-west-2"
