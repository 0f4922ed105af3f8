"""AssumeRoleForPodIdentity over the real IAM, STS, authorizer and policy engine (in process)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from tests.services.eksauth.conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Stack, policy

from podid.errors import AwsError
from podid.services.eksauth import session_name
from podid.services.eksauth.errors import (
    AccessDeniedException,
    InvalidParameterException,
    InvalidTokenException,
    ResourceNotFoundException,
)
from podid.services.sts.errors import PackedPolicyTooLarge

S3_ALL = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_exchange_returns_six_hour_credentials_with_six_transitive_tags(stack: Stack) -> None:
    role = stack.role("eks-pod-s3-read-access-role", s3=S3_ALL)
    assoc = stack.eks.associations.create(
        stack.cluster, namespace="ns-a", service_account="sa1", role_arn=role
    )
    grant = stack.auth.assume_role_for_pod_identity(
        stack.call(), "eksworkshop-eksctl", stack.token("ns-a", "sa1")
    )
    out = grant.to_api()
    assert out["subject"] == {"namespace": "ns-a", "serviceAccount": "sa1"}
    assert out["audience"] == "pods.eks.amazonaws.com"
    assert out["podIdentityAssociation"] == {
        "associationArn": assoc.arn,
        "associationId": assoc.association_id,
    }
    arn = out["assumedRoleUser"]["arn"]
    assert re.fullmatch(
        rf"arn:aws:sts::{ACCOUNT}:assumed-role/eks-pod-s3-read-access-role/eks-eksworksho-app1-{UUID}", arn
    )
    assert out["assumedRoleUser"]["assumeRoleId"].startswith("AROA")
    creds = out["credentials"]
    assert creds["accessKeyId"].startswith("ASIA")
    # 21,600 s although the role has the default MaxSessionDuration of 3,600 s
    assert creds["expiration"] - stack.clock.now() == timedelta(seconds=21600)
    session = stack.sts.decode_token(creds["sessionToken"]).session
    assert list(session.tags.items()) == [
        ("eks-cluster-arn", f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eksworkshop-eksctl"),
        ("eks-cluster-name", "eksworkshop-eksctl"),
        ("kubernetes-namespace", "ns-a"),
        ("kubernetes-service-account", "sa1"),
        ("kubernetes-pod-name", "app1"),
        ("kubernetes-pod-uid", "0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012"),
    ]
    assert list(session.transitive_tag_keys) == [k for k, _ in session.tags.items()]


def test_session_name_fits_64_characters() -> None:
    name = session_name("eks-pod-identity-xacct-demo", "a-very-long-pod-name-0123456789-abcdef")
    assert len(name) == 64
    assert name.startswith("eks-eks-pod-id-a-very-long-")
    assert session_name("c", "p", "u") == "eks-c-p-u"


def test_session_tags_drive_abac_and_disable_session_tags_removes_them(stack: Stack) -> None:
    abac = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "allowed-ns"}},
        }
    )
    role = stack.role("abac-role", abac=abac)
    for ns in ("allowed-ns", "other-ns"):
        stack.eks.associations.create(stack.cluster, namespace=ns, service_account="sa", role_arn=role)
    creds = {
        ns: stack.auth.assume_role_for_pod_identity(
            stack.call(), stack.cluster.name, stack.token(ns, "sa")
        ).credentials
        for ns in ("allowed-ns", "other-ns")
    }
    allowed = stack.principal_of(creds["allowed-ns"].session_token)
    other = stack.principal_of(creds["other-ns"].session_token)
    assert stack.allowed(allowed, "s3:GetObject", "arn:aws:s3:::data/x")
    assert not stack.allowed(other, "s3:GetObject", "arn:aws:s3:::data/x")
    # disableSessionTags: no tags at all, so the ABAC condition no longer matches
    plain_trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    untagged_role = stack.role("untagged-role", plain_trust, abac=abac)
    stack.eks.associations.create(
        stack.cluster,
        namespace="allowed-ns",
        service_account="untagged",
        role_arn=untagged_role,
        disable_session_tags=True,
    )
    grant = stack.auth.assume_role_for_pod_identity(
        stack.call(), stack.cluster.name, stack.token("allowed-ns", "untagged")
    )
    session = stack.sts.decode_token(grant.credentials.session_token).session
    assert dict(session.tags) == {}
    assert not stack.allowed(
        stack.principal_of(grant.credentials.session_token), "s3:GetObject", "arn:aws:s3:::data/x"
    )


def test_trust_policy_without_tag_session_is_access_denied(stack: Stack) -> None:
    plain_trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = stack.role("no-tagsession", plain_trust)
    stack.eks.associations.create(stack.cluster, namespace="ns", service_account="sa", role_arn=role)
    with pytest.raises(AccessDeniedException) as err:
        stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, stack.token("ns", "sa"))
    assert err.value.status == 400
    assert role in err.value.message
    assert "sts:TagSession" in err.value.message


def test_trust_policy_for_another_service_is_access_denied(stack: Stack) -> None:
    role = stack.role(
        "ec2-only",
        policy(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    stack.eks.associations.create(stack.cluster, namespace="ns", service_account="sa", role_arn=role)
    with pytest.raises(AccessDeniedException, match="ec2-only"):
        stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, stack.token("ns", "sa"))
    failed = stack.audit[-1]
    assert failed["errorCode"] == "AccessDenied"
    assert failed["responseElements"] is None


def test_target_role_hop_across_accounts_with_external_id(stack: Stack) -> None:
    target_trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/account-a-role"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "sts:ExternalId": f"{REGION}/{ACCOUNT}/{stack.cluster.name}/default/demo-app-sa",
                    "aws:RequestTag/kubernetes-namespace": "default",
                }
            },
        }
    )
    target = stack.role("account-b-role", target_trust, account=OTHER_ACCOUNT, s3=S3_ALL)
    first = stack.role(
        "account-a-role",
        hop=policy({"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": target}),
    )
    stack.eks.associations.create(
        stack.cluster,
        namespace="default",
        service_account="demo-app-sa",
        role_arn=first,
        target_role_arn=target,
    )
    grant = stack.auth.assume_role_for_pod_identity(
        stack.call(), stack.cluster.name, stack.token("default", "demo-app-sa", pod="awscli")
    )
    out = grant.to_api()
    assert re.fullmatch(
        rf"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/account-b-role/eks-eksworksho-awscli-{UUID}",
        out["assumedRoleUser"]["arn"],
    )
    assert out["credentials"]["expiration"] - stack.clock.now() == timedelta(seconds=3540)
    session = stack.sts.decode_token(out["credentials"]["sessionToken"]).session
    assert session.tags["kubernetes-namespace"] == "default"  # inherited transitive tag
    hops = [e for e in stack.audit if e["eventName"] == "AssumeRole"]
    assert [h["userIdentity"]["type"] for h in hops] == ["AWSService", "AssumedRole"]
    assert hops[0]["requestParameters"]["durationSeconds"] == 21600
    assert (
        hops[1]["requestParameters"]["externalId"]
        == f"{REGION}/{ACCOUNT}/{stack.cluster.name}/default/demo-app-sa"
    )
    assert hops[1]["requestParameters"]["durationSeconds"] == 3540


def test_target_role_refuses_wrong_external_id(stack: Stack) -> None:
    target_trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": "something-else"}},
        }
    )
    target = stack.role("b-role", target_trust, account=OTHER_ACCOUNT)
    first = stack.role(
        "a-role",
        hop=policy({"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}),
    )
    stack.eks.associations.create(
        stack.cluster, namespace="ns", service_account="sa", role_arn=first, target_role_arn=target
    )
    with pytest.raises(AccessDeniedException, match="b-role"):
        stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, stack.token("ns", "sa"))


def test_session_policy_narrows_permissions(stack: Stack) -> None:
    role = stack.role(
        "wide",
        policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        s3=S3_ALL,
    )
    narrow = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    stack.eks.associations.create(
        stack.cluster,
        namespace="ns",
        service_account="sa",
        role_arn=role,
        disable_session_tags=True,
        policy=narrow,
    )
    grant = stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, stack.token("ns", "sa"))
    who = stack.principal_of(grant.credentials.session_token)
    assert stack.allowed(who, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not stack.allowed(who, "s3:PutObject", "arn:aws:s3:::b/k")


def test_invalid_session_policy_is_refused_at_create_by_the_policy_engine(stack: Stack) -> None:
    role = stack.role("r")
    bad = '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}'
    from podid.services.eks.errors import InvalidParameterException as EksInvalidParameter

    with pytest.raises(EksInvalidParameter, match="not a valid IAM policy"):
        stack.eks.associations.create(
            stack.cluster,
            namespace="ns",
            service_account="sa",
            role_arn=role,
            disable_session_tags=True,
            policy=bad,
        )


def test_not_found_cases(stack: Stack) -> None:
    with pytest.raises(ResourceNotFoundException, match="No cluster found for name: nope"):
        stack.auth.assume_role_for_pod_identity(stack.call(), "nope", stack.token("ns", "sa"))
    with pytest.raises(ResourceNotFoundException, match="service account sa in namespace ns") as err:
        stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, stack.token("ns", "sa"))
    assert err.value.status == 404


def test_deleted_role_is_access_denied(stack: Stack) -> None:
    role = stack.role("soon-gone")
    stack.eks.associations.create(stack.cluster, namespace="ns", service_account="sa", role_arn=role)
    stack.iam.delete_role(ACCOUNT, "soon-gone")
    with pytest.raises(AccessDeniedException, match="soon-gone"):
        stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, stack.token("ns", "sa"))


def test_other_sts_refusals_are_invalid_parameter(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.eks.associations.create(
        stack.cluster, namespace="ns", service_account="sa", role_arn=stack.role("r")
    )

    def refuse(*args: object, **kwargs: object) -> None:
        raise PackedPolicyTooLarge("Packed policy consumes 120% of allotted space")

    call, token = stack.call(), stack.token("ns", "sa")
    monkeypatch.setattr(stack.sts, "assume_role", refuse)
    with pytest.raises(InvalidParameterException, match="120%"):
        stack.auth.assume_role_for_pod_identity(call, stack.cluster.name, token)
    assert stack.audit[-1]["errorCode"] == "PackedPolicyTooLarge"


def test_unbound_token_is_invalid(stack: Stack) -> None:
    stack.eks.associations.create(
        stack.cluster, namespace="ns", service_account="sa", role_arn=stack.role("r")
    )
    with pytest.raises(InvalidTokenException, match="not bound to a pod"):
        stack.auth.assume_role_for_pod_identity(
            stack.call(), stack.cluster.name, stack.token("ns", "sa", pod=None)
        )


def test_audit_records_the_sts_call_as_the_service_and_never_the_token(stack: Stack) -> None:
    role = stack.role("audited")
    stack.eks.associations.create(stack.cluster, namespace="ns-a", service_account="sa1", role_arn=role)
    token = stack.token("ns-a", "sa1")
    stack.auth.assume_role_for_pod_identity(stack.call(), stack.cluster.name, token)
    (event,) = stack.audit
    assert event["userIdentity"] == {"type": "AWSService", "invokedBy": "pods.eks.amazonaws.com"}
    assert event["eventSource"] == "sts.amazonaws.com"
    assert event["sourceIPAddress"] == "pods.eks.amazonaws.com"
    params = event["requestParameters"]
    assert params["roleArn"] == role
    assert params["durationSeconds"] == 21600
    assert [t["key"] for t in params["tags"]] == params["transitiveTagKeys"]
    assert len(params["tags"]) == 6
    assert event["responseElements"]["assumedRoleUser"]["arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/"
    )
    assert token not in repr(event)
    assert token.split(".")[1] not in repr(event)


def test_provider_declares_the_node_permission(stack: Stack) -> None:
    spec = stack.provider.operations()["AssumeRoleForPodIdentity"]
    assert spec.authz is not None
    (check,) = spec.authz(stack.call(), {"clusterName": "c1", "token": "x"})
    assert check.action == "eks-auth:AssumeRoleForPodIdentity"
    assert check.resource == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/c1"
    # the node role (AmazonEKSWorkerNodePolicy-like inline policy) is allowed; a bare role is not
    stack.authorizer.authorize(stack.call(), [check])
    bare_arn = stack.role(
        "bare",
        policy(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    from podid.services.base import Principal
    from podid.services.sts.domain import AssumeRoleRequest

    ec2 = Principal(kind="service", arn="ec2.amazonaws.com", account=ACCOUNT, user_id="ec2", name="ec2")
    bare = stack.sts.assume_role(
        ec2, AssumeRoleRequest(bare_arn, "i-1"), stack.authorizer.authorize
    ).principal
    with pytest.raises(AwsError) as err:
        stack.authorizer.authorize(stack.call(bare), [check])
    assert err.value.code == "AccessDeniedException"
    assert err.value.status == 400
