"""The authorizer: request context, which policies apply per principal kind, errors per service."""

from __future__ import annotations

import json
import os

import pytest
from tests.services.iam.iam_helpers import ACCOUNT, allow, trust_for

from podid.clock import FakeClock
from podid.errors import AwsError
from podid.services.base import AuthzCheck, Call, Principal
from podid.services.iam import IamDomain
from podid.services.iam.authorizer import Authorizer
from podid.services.sts import AssumeRoleRequest, StsDomain

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
S3_RO = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def user_principal(iam: IamDomain, name: str) -> Principal:
    user = iam.get_user(ACCOUNT, name)
    return Principal("user", user.arn, ACCOUNT, user.user_id, user.name, "AKIAEXAMPLE")


def call_as(principal: Principal, clock: FakeClock, service: str = "s3", operation: str = "Op") -> Call:
    return Call("req-1", service, operation, "us-west-2", principal, clock.now())


def denied(authorizer: Authorizer, call: Call, action: str, resource: str = "*") -> AwsError:
    with pytest.raises(AwsError) as err:
        authorizer.authorize(call, [AuthzCheck(action, resource, resource_account=ACCOUNT)])
    return err.value


def session_for(iam: IamDomain, clock: FakeClock, role: str, **kwargs: object) -> Principal:
    sts = StsDomain(iam, clock, os.urandom(32))
    iam.bootstrap_admin(ACCOUNT)
    admin = user_principal(iam, "admin")
    arn = iam.get_role(ACCOUNT, role).arn
    authz = Authorizer(iam)
    return sts.assume_role(admin, AssumeRoleRequest(arn, "s1", **kwargs), authz.authorize).principal  # type: ignore[arg-type]


def test_admin_user_is_allowed_and_scoped_user_is_denied(
    iam: IamDomain, authorizer: Authorizer, clock: FakeClock
) -> None:
    iam.bootstrap_admin(ACCOUNT)
    authorizer.authorize(call_as(user_principal(iam, "admin"), clock), [AuthzCheck("s3:CreateBucket", "*")])
    iam.create_user(ACCOUNT, "reader")
    iam.attach_user_policy(ACCOUNT, "reader", S3_RO)
    reader = call_as(user_principal(iam, "reader"), clock)
    authorizer.authorize(reader, [AuthzCheck("s3:ListAllMyBuckets", "*")])
    err = denied(authorizer, reader, "s3:CreateBucket", "arn:aws:s3:::b")
    assert err.code == "AccessDenied"
    assert err.status == 403
    assert err.message.startswith(f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: ")
    assert "s3:CreateBucket" in err.message


def test_permissions_boundary_caps_identity_policies(
    iam: IamDomain, authorizer: Authorizer, clock: FakeClock
) -> None:
    iam.create_user(ACCOUNT, "bounded", boundary_arn=S3_RO)
    iam.attach_user_policy(ACCOUNT, "bounded", ADMIN)
    call = call_as(user_principal(iam, "bounded"), clock)
    authorizer.authorize(call, [AuthzCheck("s3:GetObject", "arn:aws:s3:::b/k")])
    assert "boundary" in denied(authorizer, call, "iam:CreateRole").message


def test_access_denied_shape_per_service(iam: IamDomain, authorizer: Authorizer, clock: FakeClock) -> None:
    iam.create_user(ACCOUNT, "nobody")
    principal = user_principal(iam, "nobody")
    expected = {
        "iam": ("AccessDenied", 403),
        "sts": ("AccessDenied", 403),
        "s3": ("AccessDenied", 403),
        "cloudformation": ("AccessDenied", 403),
        "eks": ("AccessDeniedException", 403),
        "eks-auth": ("AccessDeniedException", 400),
    }
    for service, (code, status) in expected.items():
        err = denied(authorizer, call_as(principal, clock, service), "x:Y")
        assert (err.code, err.status) == (code, status), service


def test_get_caller_identity_is_always_allowed(
    iam: IamDomain, authorizer: Authorizer, clock: FakeClock
) -> None:
    iam.create_user(ACCOUNT, "nobody")
    call = call_as(user_principal(iam, "nobody"), clock, "sts", "GetCallerIdentity")
    authorizer.authorize(call, [AuthzCheck("sts:GetCallerIdentity", "*")])


def test_root_is_allowed_in_its_account(authorizer: Authorizer, clock: FakeClock) -> None:
    root = Principal("root", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT, ACCOUNT)
    authorizer.authorize(call_as(root, clock), [AuthzCheck("iam:CreateRole", "*", resource_account=ACCOUNT)])


def test_anonymous_needs_a_public_resource_policy(authorizer: Authorizer, clock: FakeClock) -> None:
    anon = Principal("anonymous", "anonymous", "", "anonymous", "anonymous")
    call = call_as(anon, clock)
    obj = "arn:aws:s3:::public/k"
    assert denied(authorizer, call, "s3:GetObject", obj).code == "AccessDenied"

    def bucket_policy(principal: object) -> str:
        statement = {
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"{obj[:-1]}*",
        }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    public = bucket_policy("*")
    authorizer.authorize(call, [AuthzCheck("s3:GetObject", obj, {}, public, ACCOUNT)])
    authorizer.authorize(call, [AuthzCheck("s3:GetObject", obj, {}, bucket_policy({"AWS": "*"}), ACCOUNT)])
    with pytest.raises(AwsError):  # the policy grants GetObject only
        authorizer.authorize(call, [AuthzCheck("s3:PutObject", obj, {}, public, ACCOUNT)])
    account_only = bucket_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    with pytest.raises(AwsError):  # naming an account is not public
        authorizer.authorize(call, [AuthzCheck("s3:GetObject", obj, {}, account_only, ACCOUNT)])
    ctx = authorizer.context_for(call)
    assert "aws:PrincipalArn" not in ctx
    assert "aws:PrincipalAccount" not in ctx


def test_service_principal_only_resource_policy_decides(authorizer: Authorizer, clock: FakeClock) -> None:
    service = Principal("service", "pods.eks.amazonaws.com", ACCOUNT, "pods.eks.amazonaws.com", "pods.eks")
    call = call_as(service, clock, "sts", "AssumeRole")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/app"
    trust = trust_for({"Service": "pods.eks.amazonaws.com"}, ["sts:AssumeRole"])
    authorizer.authorize(call, [AuthzCheck("sts:AssumeRole", role_arn, {}, trust, ACCOUNT)])
    with pytest.raises(AwsError):
        authorizer.authorize(call, [AuthzCheck("sts:TagSession", role_arn, {}, trust, ACCOUNT)])
    with pytest.raises(AwsError):
        authorizer.authorize(call, [AuthzCheck("s3:ListAllMyBuckets", "*")])


def test_session_reads_role_policies_at_request_time(
    iam: IamDomain, authorizer: Authorizer, clock: FakeClock
) -> None:
    iam.create_role(ACCOUNT, "app", trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    session = session_for(iam, clock, "app")
    call = call_as(session, clock)
    assert denied(authorizer, call, "s3:ListAllMyBuckets").code == "AccessDenied"
    iam.attach_role_policy(ACCOUNT, "app", S3_RO)
    authorizer.authorize(call, [AuthzCheck("s3:ListAllMyBuckets", "*")])
    iam.detach_role_policy(ACCOUNT, "app", S3_RO)
    iam.delete_role(ACCOUNT, "app")
    # the same name again is another role: the old session gets nothing from it
    iam.create_role(ACCOUNT, "app", trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    iam.attach_role_policy(ACCOUNT, "app", S3_RO)
    denied(authorizer, call, "s3:ListAllMyBuckets")


def test_session_policy_intersects(iam: IamDomain, authorizer: Authorizer, clock: FakeClock) -> None:
    iam.create_role(ACCOUNT, "app", trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    iam.attach_role_policy(ACCOUNT, "app", ADMIN)
    session = session_for(iam, clock, "app", policy=allow("s3:GetObject"))
    call = call_as(session, clock)
    authorizer.authorize(call, [AuthzCheck("s3:GetObject", "arn:aws:s3:::b/k")])
    assert "session policy" in denied(authorizer, call, "s3:PutObject", "arn:aws:s3:::b/k").message


def test_context_of_a_session(iam: IamDomain, authorizer: Authorizer, clock: FakeClock) -> None:
    iam.create_role(
        ACCOUNT,
        "app",
        trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ["sts:AssumeRole", "sts:TagSession"]),
        path="/eks/",
        tags=[("Team", "role-team"), ("cost", "1")],
    )
    session = session_for(iam, clock, "app", tags=[("team", "session-team")])
    ctx = authorizer.context_for(call_as(session, clock))
    assert ctx["aws:PrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:role/eks/app"
    assert ctx["aws:PrincipalType"] == "AssumedRole"
    assert ctx["aws:PrincipalAccount"] == ACCOUNT
    assert str(ctx["aws:userid"]).endswith(":s1")
    assert ctx["aws:PrincipalTag/team"] == "session-team"  # the session tag overrides Team
    assert "aws:PrincipalTag/Team" not in ctx
    assert ctx["aws:PrincipalTag/cost"] == "1"
    assert ctx["aws:MultiFactorAuthPresent"] == "false"
    assert ctx["aws:TokenIssueTime"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ctx["aws:RequestedRegion"] == "us-west-2"
    assert ctx["aws:SecureTransport"] == "false"
    assert "aws:username" not in ctx


def test_context_of_a_user(iam: IamDomain, authorizer: Authorizer, clock: FakeClock) -> None:
    iam.create_user(ACCOUNT, "erin", tags=[("dept", "x")])
    ctx = authorizer.context_for(call_as(user_principal(iam, "erin"), clock))
    assert ctx["aws:username"] == "erin"
    assert ctx["aws:PrincipalType"] == "User"
    assert ctx["aws:PrincipalTag/dept"] == "x"
    assert "aws:MultiFactorAuthPresent" not in ctx  # absent for long-term keys, as AWS
    assert ctx["aws:EpochTime"] == str(int(clock.now().timestamp()))


def test_abac_on_principal_tags(iam: IamDomain, authorizer: Authorizer, clock: FakeClock) -> None:
    abac = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::data/${aws:PrincipalTag/kubernetes-namespace}/*",
            }
        ],
    }
    iam.create_role(
        ACCOUNT,
        "app",
        trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ["sts:AssumeRole", "sts:TagSession"]),
    )
    iam.put_role_policy(ACCOUNT, "app", "abac", json.dumps(abac))
    session = session_for(iam, clock, "app", tags=[("kubernetes-namespace", "ns-a")])
    call = call_as(session, clock)
    authorizer.authorize(call, [AuthzCheck("s3:GetObject", "arn:aws:s3:::data/ns-a/key")])
    denied(authorizer, call, "s3:GetObject", "arn:aws:s3:::data/ns-b/key")
