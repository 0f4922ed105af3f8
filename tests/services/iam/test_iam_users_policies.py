"""IAM users, access keys, customer managed policies with versions, the AWS managed catalog, bootstrap."""

from __future__ import annotations

import re

import pytest
from tests.services.iam.iam_helpers import ACCOUNT, allow, trust_for

from podid.errors import AccessDenied
from podid.policy import MalformedPolicyDocument
from podid.services.base import Principal
from podid.services.iam import DeleteConflict, EntityAlreadyExists, IamDomain, LimitExceeded, NoSuchEntity
from podid.services.iam.managed import load_catalog

KEY_ID = re.compile(r"AKIA[A-Z2-7]{16}")


def test_catalog_resolves_the_walkthrough_policies() -> None:
    catalog = load_catalog()
    assert len(catalog) > 1500
    assert "moto" in catalog.source
    for arn in (
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ):
        assert catalog.get(arn) is not None, arn
    s3 = catalog.get("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    assert s3 is not None
    assert '"s3:Get*"' in s3.document


def test_bootstrap_admin_is_idempotent(iam: IamDomain) -> None:
    akid, secret = iam.bootstrap_admin(ACCOUNT)
    assert KEY_ID.fullmatch(akid)
    assert len(secret) == 40
    assert iam.bootstrap_admin(ACCOUNT) == (akid, secret)
    admin = iam.get_user(ACCOUNT, "admin")
    assert admin.arn == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert admin.attached == ("arn:aws:iam::aws:policy/AdministratorAccess",)
    assert len(iam.access_keys(ACCOUNT, "admin")) == 1


def test_bootstrap_keys_are_random(clock: object) -> None:
    from podid.store import Store

    first = IamDomain(Store(), clock).bootstrap_admin(ACCOUNT)  # type: ignore[arg-type]
    second = IamDomain(Store(), clock).bootstrap_admin(ACCOUNT)  # type: ignore[arg-type]
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_users_and_delete_conflicts(iam: IamDomain) -> None:
    user = iam.create_user(ACCOUNT, "alice", path="/dev/", tags=[("team", "a")])
    assert user.user_id.startswith("AIDA")
    assert user.arn == f"arn:aws:iam::{ACCOUNT}:user/dev/alice"
    with pytest.raises(EntityAlreadyExists):
        iam.create_user(ACCOUNT, "ALICE")
    key = iam.create_access_key(ACCOUNT, "alice")
    iam.attach_user_policy(ACCOUNT, "alice", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.put_user_policy(ACCOUNT, "alice", "p", allow("s3:*"))
    with pytest.raises(DeleteConflict) as err:
        iam.delete_user(ACCOUNT, "alice")
    assert err.value.message == "Cannot delete entity, must delete access keys first."
    iam.delete_access_key(ACCOUNT, "alice", key.access_key_id)
    with pytest.raises(DeleteConflict) as err:
        iam.delete_user(ACCOUNT, "alice")
    assert err.value.message == "Cannot delete entity, must detach all policies first."
    iam.detach_user_policy(ACCOUNT, "alice", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(DeleteConflict) as err:
        iam.delete_user(ACCOUNT, "alice")
    assert err.value.message == "Cannot delete entity, must delete policies first."
    iam.delete_user_policy(ACCOUNT, "alice", "p")
    iam.delete_user(ACCOUNT, "alice")
    with pytest.raises(NoSuchEntity) as missing:
        iam.get_user(ACCOUNT, "alice")
    assert missing.value.message == "The user with name alice cannot be found."


def test_access_keys_quota_and_status(iam: IamDomain) -> None:
    iam.create_user(ACCOUNT, "bob")
    first = iam.create_access_key(ACCOUNT, "bob")
    iam.create_access_key(ACCOUNT, "bob")
    with pytest.raises(LimitExceeded) as err:
        iam.create_access_key(ACCOUNT, "bob")
    assert err.value.message == "Cannot exceed quota for AccessKeysPerUser: 2"
    iam.update_access_key(ACCOUNT, "bob", first.access_key_id, "Inactive")
    stored = iam.access_key(first.access_key_id)
    assert stored is not None
    assert stored.status == "Inactive"
    with pytest.raises(NoSuchEntity) as missing:
        iam.delete_access_key(ACCOUNT, "bob", "AKIAAAAAAAAAAAAAAAAA")
    assert missing.value.message == "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found."


def test_user_inline_quota(iam: IamDomain) -> None:
    iam.create_user(ACCOUNT, "carol")
    resources = [f"arn:aws:s3:::bucket-{i:03d}-{'z' * 40}/*" for i in range(40)]
    with pytest.raises(LimitExceeded) as err:
        iam.put_user_policy(ACCOUNT, "carol", "p", allow("s3:GetObject", resources))
    assert err.value.message == "Maximum policy size of 2048 bytes exceeded for user carol"


def test_customer_policy_versions(iam: IamDomain) -> None:
    policy = iam.create_policy(ACCOUNT, "Reader", allow("s3:GetObject"), path="/app/", description="d")
    assert policy.arn == f"arn:aws:iam::{ACCOUNT}:policy/app/Reader"
    assert policy.policy_id.startswith("ANPA")
    with pytest.raises(EntityAlreadyExists) as exists:
        iam.create_policy(ACCOUNT, "reader", allow("s3:GetObject"))
    assert exists.value.message == "A policy called reader already exists. Duplicate names are not allowed."
    for i in range(2, 6):
        version = iam.create_policy_version(
            ACCOUNT, policy.arn, allow(f"s3:Action{i}"), set_as_default=i == 3
        )
        assert version.version_id == f"v{i}"
    with pytest.raises(LimitExceeded):
        iam.create_policy_version(ACCOUNT, policy.arn, allow("s3:X"), set_as_default=False)
    assert iam.get_policy(ACCOUNT, policy.arn).default_version_id == "v3"
    assert "s3:Action3" in (iam.managed_policy_document(policy.arn) or "")
    with pytest.raises(DeleteConflict) as default:
        iam.delete_policy_version(ACCOUNT, policy.arn, "v3")
    assert default.value.message == "Cannot delete the default version of a policy."
    versions = iam.list_policy_versions(ACCOUNT, policy.arn)
    assert [v.version_id for v, _ in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [d for _, d in versions] == [False, False, True, False, False]
    doc, is_default = iam.get_policy_version(ACCOUNT, policy.arn, "v1")
    assert "s3:GetObject" in doc.document
    assert not is_default
    with pytest.raises(NoSuchEntity):
        iam.get_policy_version(ACCOUNT, policy.arn, "v9")
    iam.set_default_policy_version(ACCOUNT, policy.arn, "v1")
    with pytest.raises(DeleteConflict):
        iam.delete_policy(ACCOUNT, policy.arn)  # more than one version
    for vid in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(ACCOUNT, policy.arn, vid)
    iam.delete_policy(ACCOUNT, policy.arn)
    with pytest.raises(NoSuchEntity) as gone:
        iam.get_policy(ACCOUNT, policy.arn)
    assert gone.value.message == f"Policy {policy.arn} was not found."


def test_attached_policy_cannot_be_deleted(iam: IamDomain) -> None:
    policy = iam.create_policy(ACCOUNT, "P", allow("s3:GetObject"))
    iam.create_role(ACCOUNT, "r", trust_for({"Service": "ec2.amazonaws.com"}))
    iam.attach_role_policy(ACCOUNT, "r", policy.arn)
    assert iam.get_policy(ACCOUNT, policy.arn).attachment_count == 1
    roles, users = iam.list_entities_for_policy(ACCOUNT, policy.arn, None, None)
    assert [r.name for r in roles] == ["r"]
    assert users == []
    with pytest.raises(DeleteConflict) as err:
        iam.delete_policy(ACCOUNT, policy.arn)
    assert err.value.message == "Cannot delete a policy attached to entities."


def test_aws_managed_policies_are_read_only(iam: IamDomain) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    view = iam.get_policy(ACCOUNT, arn)
    assert view.name == "AmazonS3ReadOnlyAccess"
    assert view.policy_id.startswith("ANPA")
    assert view.policy_id == iam.get_policy(ACCOUNT, arn).policy_id  # stable
    version, is_default = iam.get_policy_version(ACCOUNT, arn, view.default_version_id)
    assert is_default
    assert "s3:Get*" in version.document
    with pytest.raises(AccessDenied):
        iam.delete_policy(ACCOUNT, arn)
    with pytest.raises(AccessDenied):
        iam.create_policy_version(ACCOUNT, arn, allow("s3:*"), set_as_default=True)


def test_managed_policy_document_malformed_and_quota(iam: IamDomain) -> None:
    with pytest.raises(MalformedPolicyDocument):
        iam.create_policy(ACCOUNT, "Bad", '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}')
    actions = [f"s3:GetObjectVersion{i:04d}{'A' * 40}" for i in range(140)]
    with pytest.raises(LimitExceeded) as err:
        iam.create_policy(ACCOUNT, "Big", allow(actions))
    assert err.value.message == "Cannot exceed quota for PolicySize: 6144"


def test_list_policies_scopes(iam: IamDomain) -> None:
    local = iam.create_policy(ACCOUNT, "Mine", allow("s3:GetObject"))
    aws, _ = iam.list_policies(ACCOUNT, scope="AWS", max_items=1000)
    assert len(aws) == 1000
    assert all(v.arn.startswith("arn:aws:iam::aws:policy/") for v in aws)
    only_local, marker = iam.list_policies(ACCOUNT, scope="Local")
    assert [v.arn for v in only_local] == [local.arn]
    assert marker is None
    iam.create_role(ACCOUNT, "r", trust_for({"Service": "ec2.amazonaws.com"}))
    iam.attach_role_policy(ACCOUNT, "r", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    attached, _ = iam.list_policies(ACCOUNT, scope="All", only_attached=True)
    assert [v.name for v in attached] == ["AmazonS3ReadOnlyAccess"]
    assert attached[0].attachment_count == 1
    total = 0
    marker = None
    while True:
        page, marker = iam.list_policies(ACCOUNT, scope="All", marker=marker, max_items=400)
        total += len(page)
        if marker is None:
            break
    assert total == len(load_catalog()) + 1


def test_policies_for_principals(iam: IamDomain) -> None:
    iam.create_user(ACCOUNT, "dave", boundary_arn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.attach_user_policy(ACCOUNT, "dave", "arn:aws:iam::aws:policy/AdministratorAccess")
    iam.put_user_policy(ACCOUNT, "dave", "inline", allow("sqs:*"))
    user = iam.get_user(ACCOUNT, "dave")
    principal = Principal("user", user.arn, ACCOUNT, user.user_id, user.name)
    documents, boundary = iam.policies_for(principal)
    assert len(documents) == 2
    assert '"sqs:*"' in documents[1]
    assert boundary is not None
    assert "s3:Get*" in boundary
    root = Principal("root", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT, ACCOUNT)
    assert iam.policies_for(root) == ([], None)
