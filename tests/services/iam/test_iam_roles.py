"""IAM roles in the domain: AWS's rules and messages for create/get/list/update/delete, tags, policies."""

from __future__ import annotations

import json
import re

import pytest
from tests.services.iam.iam_helpers import ACCOUNT, allow, trust_for

from podid.policy import MalformedPolicyDocument
from podid.services.iam import DeleteConflict, EntityAlreadyExists, IamDomain, LimitExceeded, NoSuchEntity
from podid.services.iam.errors import InvalidInput

TRUST = trust_for({"Service": "pods.eks.amazonaws.com"}, ["sts:AssumeRole", "sts:TagSession"])
S3_RO = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def test_create_role_shapes(iam: IamDomain) -> None:
    role = iam.create_role(ACCOUNT, "s3-app", TRUST, path="/team/", description="d", tags=[("k", "v")])
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/team/s3-app"
    assert role.role_id.startswith("AROA")
    assert len(role.role_id) == 21
    assert role.role_id[4:].isalnum()
    assert role.role_id[4:].upper() == role.role_id[4:]
    assert role.max_session_duration == 3600
    assert iam.get_role(ACCOUNT, "S3-APP") == role  # names are case-insensitive


def test_duplicate_name_case_insensitive(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "App", TRUST)
    with pytest.raises(EntityAlreadyExists, match=re.escape("Role with name app already exists.")):
        iam.create_role(ACCOUNT, "app", TRUST)


def test_same_name_other_account_is_separate(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    other = iam.create_role("444455556666", "app", TRUST)
    assert other.account == "444455556666"


def test_get_missing_role(iam: IamDomain) -> None:
    with pytest.raises(NoSuchEntity, match=re.escape("The role with name nope cannot be found.")) as err:
        iam.get_role(ACCOUNT, "nope")
    assert err.value.status == 404


def test_malformed_trust_policy(iam: IamDomain) -> None:
    with pytest.raises(MalformedPolicyDocument):
        iam.create_role(ACCOUNT, "bad", "{not json")
    identity_like = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]})
    with pytest.raises(MalformedPolicyDocument):
        iam.create_role(ACCOUNT, "bad", identity_like)  # no Principal in a trust policy
    assert iam.find_role(ACCOUNT, "bad") is None


def test_trust_policy_quota(iam: IamDomain) -> None:
    principals = [f"arn:aws:iam::{ACCOUNT}:role/r{i:04d}-{'x' * 40}" for i in range(50)]
    big = trust_for({"AWS": principals})
    with pytest.raises(LimitExceeded, match=re.escape("ACLSizePerRole: 2048")):
        iam.create_role(ACCOUNT, "big", big)


def test_role_from_arn_requires_matching_path(iam: IamDomain) -> None:
    role = iam.create_role(ACCOUNT, "app", TRUST, path="/a/b/")
    assert iam.role_from_arn(role.arn) == role
    assert iam.role_from_arn(f"arn:aws:iam::{ACCOUNT}:role/app") is None
    assert iam.role_from_arn("arn:aws:iam::111122223333:user/app") is None
    assert iam.role_from_arn("not an arn") is None


def test_list_roles_path_prefix_and_pagination(iam: IamDomain) -> None:
    for i in range(5):
        iam.create_role(ACCOUNT, f"r{i}", TRUST, path="/svc/" if i % 2 else "/")
    svc, marker = iam.list_roles(ACCOUNT, "/svc/", None, None)
    assert [r.name for r in svc] == ["r1", "r3"]
    assert marker is None
    page1, marker = iam.list_roles(ACCOUNT, None, None, 2)
    assert [r.name for r in page1] == ["r0", "r1"]
    assert marker
    page2, marker = iam.list_roles(ACCOUNT, None, marker, 2)
    assert [r.name for r in page2] == ["r2", "r3"]
    page3, marker = iam.list_roles(ACCOUNT, None, marker, 2)
    assert [r.name for r in page3] == ["r4"]
    assert marker is None


def test_delete_role_conflicts(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    iam.attach_role_policy(ACCOUNT, "app", S3_RO)
    iam.put_role_policy(ACCOUNT, "app", "inline", allow("s3:GetObject"))
    with pytest.raises(DeleteConflict, match=re.escape("must detach all policies first")) as err:
        iam.delete_role(ACCOUNT, "app")
    assert err.value.status == 409
    iam.detach_role_policy(ACCOUNT, "app", S3_RO)
    with pytest.raises(DeleteConflict, match=re.escape("must delete policies first")):
        iam.delete_role(ACCOUNT, "app")
    iam.delete_role_policy(ACCOUNT, "app", "INLINE")
    iam.delete_role(ACCOUNT, "app")
    assert iam.find_role(ACCOUNT, "app") is None


def test_attach_errors(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    with pytest.raises(InvalidInput, match=re.escape("ARN not-an-arn is not valid.")):
        iam.attach_role_policy(ACCOUNT, "app", "not-an-arn")
    with pytest.raises(
        NoSuchEntity,
        match=re.escape("Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable."),
    ):
        iam.attach_role_policy(ACCOUNT, "app", "arn:aws:iam::aws:policy/Nope")
    iam.attach_role_policy(ACCOUNT, "app", S3_RO)
    iam.attach_role_policy(ACCOUNT, "app", S3_RO)  # idempotent
    assert iam.get_role(ACCOUNT, "app").attached == (S3_RO,)
    with pytest.raises(NoSuchEntity):
        iam.detach_role_policy(ACCOUNT, "app", "arn:aws:iam::aws:policy/AdministratorAccess")


def test_attach_quota(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    names = [
        "AmazonS3ReadOnlyAccess",
        "AmazonEKSWorkerNodePolicy",
        "AdministratorAccess",
        "ReadOnlyAccess",
        "AmazonEC2ReadOnlyAccess",
        "IAMReadOnlyAccess",
        "AmazonSQSReadOnlyAccess",
        "AmazonSNSReadOnlyAccess",
        "AmazonDynamoDBReadOnlyAccess",
        "CloudWatchReadOnlyAccess",
        "AmazonEKSClusterPolicy",
    ]
    for name in names[:10]:
        iam.attach_role_policy(ACCOUNT, "app", f"arn:aws:iam::aws:policy/{name}")
    with pytest.raises(LimitExceeded, match=re.escape("PoliciesPerRole: 10")):
        iam.attach_role_policy(ACCOUNT, "app", f"arn:aws:iam::aws:policy/{names[10]}")


def test_inline_policies(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    iam.put_role_policy(ACCOUNT, "app", "P1", allow("s3:GetObject"))
    iam.put_role_policy(ACCOUNT, "app", "p1", allow("s3:PutObject"))  # same name, replaces
    role, name, document = iam.get_role_policy(ACCOUNT, "app", "P1")
    assert name == "p1"
    assert "PutObject" in document
    assert list(role.inline) == ["p1"]
    with pytest.raises(NoSuchEntity, match=re.escape("The role policy with name nope cannot be found.")):
        iam.get_role_policy(ACCOUNT, "app", "nope")
    with pytest.raises(MalformedPolicyDocument):
        iam.put_role_policy(
            ACCOUNT, "app", "bad", '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}'
        )


def test_inline_aggregate_quota(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    resources = [f"arn:aws:s3:::bucket-{i:05d}-{'y' * 60}/*" for i in range(60)]
    doc = allow("s3:GetObject", resources)
    iam.put_role_policy(ACCOUNT, "app", "a", doc)
    with pytest.raises(
        LimitExceeded, match=re.escape("Maximum policy size of 10240 bytes exceeded for role app")
    ):
        iam.put_role_policy(ACCOUNT, "app", "b", doc)


def test_update_role_and_trust(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST)
    role = iam.update_role(ACCOUNT, "app", description="new", max_session_duration=7200)
    assert role.description == "new"
    assert role.max_session_duration == 7200
    new_trust = trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    iam.update_assume_role_policy(ACCOUNT, "app", new_trust)
    assert iam.get_role(ACCOUNT, "app").trust_policy == new_trust
    with pytest.raises(MalformedPolicyDocument):
        iam.update_assume_role_policy(ACCOUNT, "app", "[]")


def test_tags(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST, tags=[("Team", "a")])
    iam.tag_role(ACCOUNT, "app", [("team", "b"), ("env", "dev")])
    assert iam.get_role(ACCOUNT, "app").tags == (("team", "b"), ("env", "dev"))
    iam.untag_role(ACCOUNT, "app", ["ENV"])
    assert iam.get_role(ACCOUNT, "app").tags == (("team", "b"),)
    with pytest.raises(InvalidInput, match=re.escape("Duplicate tag keys found")):
        iam.tag_role(ACCOUNT, "app", [("a", "1"), ("A", "2")])
    with pytest.raises(LimitExceeded):
        iam.tag_role(ACCOUNT, "app", [(f"k{i}", "v") for i in range(50)])


def test_permissions_boundary(iam: IamDomain) -> None:
    iam.create_role(ACCOUNT, "app", TRUST, boundary_arn=S3_RO)
    assert iam.get_role(ACCOUNT, "app").boundary_arn == S3_RO
    with pytest.raises(
        NoSuchEntity, match=re.escape("Scope ARN: arn:aws:iam::aws:policy/Nope does not exist")
    ):
        iam.put_role_permissions_boundary(ACCOUNT, "app", "arn:aws:iam::aws:policy/Nope")
    iam.delete_role_permissions_boundary(ACCOUNT, "app")
    assert iam.get_role(ACCOUNT, "app").boundary_arn is None


def test_state_survives_restart(tmp_path: object, clock: object) -> None:
    from pathlib import Path

    from podid.store import Store

    path = Path(str(tmp_path)) / "db.sqlite"
    first = IamDomain(Store(path), clock)  # type: ignore[arg-type]
    role = first.create_role(ACCOUNT, "app", TRUST, path="/p/", tags=[("a", "b")])
    first.attach_role_policy(ACCOUNT, "app", S3_RO)
    first.store.close()
    second = IamDomain(Store(path), clock)  # type: ignore[arg-type]
    assert second.get_role(ACCOUNT, "app") == role.evolve(attached=(S3_RO,))
    second.store.close()


def test_model_constraints_hold_without_the_wire_layer(iam: IamDomain) -> None:
    from podid.errors import ValidationError

    for kwargs in (
        {"name": "bad name"},
        {"name": "x" * 65},
        {"path": "no-slashes"},
        {"max_session_duration": 100},
    ):
        args = {"name": "ok", "path": "/", **kwargs}
        name, path = str(args.pop("name")), str(args.pop("path"))
        with pytest.raises(ValidationError) as err:
            iam.create_role(ACCOUNT, name, TRUST, path=path, **args)  # type: ignore[arg-type]
        assert err.value.message.startswith("1 validation error detected: Value ")
    iam.create_role(ACCOUNT, "ok", TRUST)
    with pytest.raises(ValidationError):
        iam.update_role(ACCOUNT, "ok", max_session_duration=43201)
    with pytest.raises(ValidationError):
        iam.create_user(ACCOUNT, "with space")
    with pytest.raises(ValidationError):
        iam.create_policy(ACCOUNT, "bad/name", allow("s3:*"))
