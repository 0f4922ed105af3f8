"""AssumeRole in the STS domain: trust policy, durations, chaining, tags, session policies, identity."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from tests.services.iam.iam_helpers import ACCOUNT, allow, trust_for

from podid.clock import FakeClock
from podid.errors import AwsError
from podid.services.base import Principal
from podid.services.iam import IamDomain
from podid.services.iam.authorizer import Authorizer
from podid.services.sts import AssumedRole, AssumeRoleRequest, StsDomain

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ASSUME_AND_TAG = ["sts:AssumeRole", "sts:TagSession"]
EKS_TAGS = [
    ("eks-cluster-arn", "arn:aws:eks:us-west-2:823571991546:cluster/eksworkshop-eksctl"),
    ("eks-cluster-name", "eksworkshop-eksctl"),
    ("kubernetes-namespace", "ns-a"),
    ("kubernetes-service-account", "sa1"),
    ("kubernetes-pod-name", "app1"),
    ("kubernetes-pod-uid", "0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012"),
]
POD_SERVICE = Principal("service", "pods.eks.amazonaws.com", ACCOUNT, "pods.eks.amazonaws.com", "pods.eks")


def assume(
    sts: StsDomain, authorizer: Authorizer, caller: Principal, role_arn: str, **kwargs: Any
) -> AssumedRole:
    name = kwargs.pop("name", "s1")
    return sts.assume_role(caller, AssumeRoleRequest(role_arn, name, **kwargs), authorizer.authorize)


def refused(
    sts: StsDomain, authorizer: Authorizer, caller: Principal, role_arn: str, **kwargs: Any
) -> AwsError:
    with pytest.raises(AwsError) as err:
        assume(sts, authorizer, caller, role_arn, **kwargs)
    return err.value


def make_role(
    iam: IamDomain, name: str = "app", principal: dict[str, object] | None = None, **kw: object
) -> str:
    actions = kw.pop("actions", ASSUME_AND_TAG)
    trust = trust_for(principal or {"AWS": ROOT}, actions)  # type: ignore[arg-type]
    return iam.create_role(ACCOUNT, name, trust, **kw).arn  # type: ignore[arg-type]


def test_assume_role_shapes(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal, clock: FakeClock
) -> None:
    arn = make_role(iam, path="/team/")
    role = iam.get_role(ACCOUNT, "app")
    out = assume(sts, authorizer, admin, arn, name="my-session")
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", out.access_key_id)
    assert len(out.secret_access_key) == 40
    assert len(out.session_token) > 200
    assert out.assumed_role_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/my-session"  # no path
    assert out.assumed_role_id == f"{role.role_id}:my-session"
    assert out.expiration == clock.now() + timedelta(hours=1)
    assert out.principal.kind == "role-session"
    assert out.principal.session is not None
    assert out.principal.session.role_arn == role.arn
    assert out.packed_policy_size == 0
    assert StsDomain.caller_identity(out.principal) == {
        "UserId": out.assumed_role_id,
        "Account": ACCOUNT,
        "Arn": out.assumed_role_arn,
    }


def test_caller_identity_of_user_and_root(admin: Principal) -> None:
    assert StsDomain.caller_identity(admin) == {"UserId": admin.user_id, "Account": ACCOUNT, "Arn": admin.arn}
    root = Principal("root", ROOT, ACCOUNT, ACCOUNT, ACCOUNT)
    assert StsDomain.caller_identity(root) == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": ROOT}


def test_root_may_not_assume_roles(iam: IamDomain, sts: StsDomain, authorizer: Authorizer) -> None:
    arn = make_role(iam)
    root = Principal("root", ROOT, ACCOUNT, ACCOUNT, ACCOUNT)
    err = refused(sts, authorizer, root, arn)
    assert (err.code, err.status, err.message) == (
        "AccessDenied",
        403,
        "Roles may not be assumed by root accounts.",
    )


def test_unknown_role_and_wrong_path(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/nope"
    err = refused(sts, authorizer, admin, missing)
    assert err.code == "AccessDenied"
    assert (
        err.message
        == f"User: {admin.arn} is not authorized to perform: sts:AssumeRole on resource: {missing}"
    )
    make_role(iam, path="/p/")
    assert refused(sts, authorizer, admin, f"arn:aws:iam::{ACCOUNT}:role/app").code == "AccessDenied"


def test_trust_policy_must_allow_the_caller(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    arn = make_role(iam, principal={"AWS": "arn:aws:iam::999988887777:root"})
    err = refused(sts, authorizer, admin, arn)
    assert err.code == "AccessDenied"
    assert err.status == 403
    assert "sts:AssumeRole" in err.message


def test_same_account_user_named_in_trust_needs_no_identity_policy(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, resolver: object
) -> None:
    user = iam.create_user(ACCOUNT, "plain")
    key = iam.create_access_key(ACCOUNT, "plain")
    principal = resolver(key.access_key_id, None).principal  # type: ignore[operator]
    arn = make_role(iam, principal={"AWS": user.arn})
    assume(sts, authorizer, principal, arn)
    # naming the account instead delegates to identity policies, which this user lacks
    other = make_role(iam, "other")
    assert refused(sts, authorizer, principal, other).code == "AccessDenied"


def test_tags_need_tag_session(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    arn = make_role(iam, actions=["sts:AssumeRole"])
    assume(sts, authorizer, admin, arn)
    err = refused(sts, authorizer, admin, arn, tags=[("team", "a")])
    assert err.code == "AccessDenied"
    assert "sts:TagSession" in err.message


def test_external_id_and_session_name_conditions(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ROOT},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": "us-west-2/111122223333/c/ns/sa"},
                    "StringLike": {"sts:RoleSessionName": "eks-*"},
                },
            }
        ],
    }
    arn = iam.create_role(ACCOUNT, "target", json.dumps(trust)).arn
    assume(sts, authorizer, admin, arn, name="eks-c-pod-1", external_id="us-west-2/111122223333/c/ns/sa")
    refused(sts, authorizer, admin, arn, name="eks-c-pod-1")
    refused(sts, authorizer, admin, arn, name="eks-c-pod-1", external_id="other")
    refused(sts, authorizer, admin, arn, name="other", external_id="us-west-2/111122223333/c/ns/sa")


def test_request_tag_condition(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ROOT},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "ns-a"}},
            }
        ],
    }
    arn = iam.create_role(ACCOUNT, "abac", json.dumps(trust)).arn
    assume(sts, authorizer, admin, arn, tags=[("kubernetes-namespace", "ns-a")])
    refused(sts, authorizer, admin, arn, tags=[("kubernetes-namespace", "ns-b")])
    refused(sts, authorizer, admin, arn)


def test_source_identity_needs_set_source_identity(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    arn = make_role(iam)
    err = refused(sts, authorizer, admin, arn, source_identity="alice")
    assert "sts:SetSourceIdentity" in err.message
    ok = make_role(iam, "ok", actions=["sts:AssumeRole", "sts:SetSourceIdentity"])
    out = assume(sts, authorizer, admin, ok, source_identity="alice")
    assert out.source_identity == "alice"


def test_durations(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal, clock: FakeClock
) -> None:
    arn = make_role(iam, max_session_duration=7200)
    assert assume(sts, authorizer, admin, arn, duration_seconds=7200).expiration == clock.now() + timedelta(
        hours=2
    )
    err = refused(sts, authorizer, admin, arn, duration_seconds=7201)
    assert err.code == "ValidationError"
    assert err.message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    assert refused(sts, authorizer, admin, arn, duration_seconds=899).code == "ValidationError"


def test_service_principal_may_exceed_max_session_duration(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, clock: FakeClock
) -> None:
    arn = make_role(iam, principal={"Service": "pods.eks.amazonaws.com"})
    out = assume(
        sts,
        authorizer,
        POD_SERVICE,
        arn,
        duration_seconds=21600,
        tags=EKS_TAGS,
        transitive_tag_keys=[k for k, _ in EKS_TAGS],
    )
    assert out.expiration == clock.now() + timedelta(hours=6)
    assert 40 <= out.packed_policy_size <= 70  # AWS reports 56 for these six tags


def test_role_chaining_limits_and_transitive_tags(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, clock: FakeClock
) -> None:
    first_arn = make_role(iam, "first", principal={"Service": "pods.eks.amazonaws.com"})
    first = assume(
        sts,
        authorizer,
        POD_SERVICE,
        first_arn,
        duration_seconds=21600,
        tags=EKS_TAGS,
        transitive_tag_keys=[k for k, _ in EKS_TAGS],
    )
    iam.put_role_policy(ACCOUNT, "first", "hop", allow(["sts:AssumeRole", "sts:TagSession"]))
    target_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": first_arn},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "ns-a"}},
            }
        ],
    }
    target_arn = iam.create_role(ACCOUNT, "target", json.dumps(target_trust), max_session_duration=43200).arn
    caller = first.principal
    err = refused(sts, authorizer, caller, target_arn, duration_seconds=3601)
    assert err.message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    err = refused(sts, authorizer, caller, target_arn, tags=[("Kubernetes-Namespace", "x")])
    assert err.code == "InvalidParameterValue"
    second = assume(sts, authorizer, caller, target_arn, name="hop2")
    session = second.principal.session
    assert session is not None
    assert session.chained
    assert dict(session.tags) == dict(EKS_TAGS)  # inherited, and transitive again
    assert set(session.transitive_tag_keys) == {k for k, _ in EKS_TAGS}
    assert second.expiration == clock.now() + timedelta(hours=1)


def test_inherited_tags_need_tag_session(iam: IamDomain, sts: StsDomain, authorizer: Authorizer) -> None:
    first_arn = make_role(iam, "first", principal={"Service": "pods.eks.amazonaws.com"})
    first = assume(
        sts, authorizer, POD_SERVICE, first_arn, tags=EKS_TAGS[:1], transitive_tag_keys=[EKS_TAGS[0][0]]
    )
    iam.put_role_policy(ACCOUNT, "first", "hop", allow(["sts:AssumeRole", "sts:TagSession"]))
    target = make_role(iam, "target", principal={"AWS": first_arn}, actions=["sts:AssumeRole"])
    assert "sts:TagSession" in refused(sts, authorizer, first.principal, target).message


def test_non_transitive_tags_are_not_inherited(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer
) -> None:
    first_arn = make_role(iam, "first", principal={"Service": "pods.eks.amazonaws.com"})
    first = assume(sts, authorizer, POD_SERVICE, first_arn, tags=[("a", "1")])
    iam.put_role_policy(ACCOUNT, "first", "hop", allow("sts:AssumeRole"))
    target = make_role(iam, "target", principal={"AWS": first_arn}, actions=["sts:AssumeRole"])
    second = assume(sts, authorizer, first.principal, target)
    assert second.principal.session is not None
    assert dict(second.principal.session.tags) == {}


def test_tag_rules(iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal) -> None:
    arn = make_role(iam)
    dup = refused(sts, authorizer, admin, arn, tags=[("Team", "a"), ("team", "b")])
    assert dup.code == "InvalidParameterValue"
    assert "case insensitive" in dup.message
    loose = refused(sts, authorizer, admin, arn, tags=[("a", "1")], transitive_tag_keys=["b"])
    assert loose.code == "InvalidParameterValue"
    many = refused(sts, authorizer, admin, arn, tags=[(f"k{i}", "v") for i in range(51)])
    assert many.code == "ValidationError"


def test_session_policies(iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal) -> None:
    arn = make_role(iam)
    out = assume(
        sts,
        authorizer,
        admin,
        arn,
        policy=allow("s3:GetObject"),
        policy_arns=["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
    )
    assert out.principal.session is not None
    assert len(out.principal.session.session_policies) == 2
    assert 0 < out.packed_policy_size <= 100
    assert refused(sts, authorizer, admin, arn, policy="{bad").code == "MalformedPolicyDocument"
    with_principal = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
        }
    )
    assert refused(sts, authorizer, admin, arn, policy=with_principal).code == "MalformedPolicyDocument"
    unknown = refused(sts, authorizer, admin, arn, policy_arns=["arn:aws:iam::aws:policy/Nope"])
    assert unknown.code == "MalformedPolicyDocument"
    too_long = allow([f"s3:GetObject{i:04d}" for i in range(150)])
    assert refused(sts, authorizer, admin, arn, policy=too_long).code == "ValidationError"


def test_packed_policy_too_large(iam: IamDomain, sts: StsDomain, authorizer: Authorizer) -> None:
    arn = make_role(iam, principal={"Service": "pods.eks.amazonaws.com"})
    statements = [
        {"Effect": "Allow", "Action": f"s3:Get{i}", "Resource": f"arn:aws:s3:::b{i * 7919 % 10007}/{i}/*"}
        for i in range(20)
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
    assert len(policy) <= 2048
    err = refused(sts, authorizer, POD_SERVICE, arn, tags=EKS_TAGS, policy=policy)
    assert err.code == "PackedPolicyTooLarge"
    assert re.fullmatch(
        r"Packed policy consumes \d+% of allotted space, please use smaller policy for this request\.",
        err.message,
    )
    assume(sts, authorizer, POD_SERVICE, arn, policy=policy)  # the policy alone fits
