"""Pod Identity association rules (reference §2.2, §6): the domain API used by provider and webhook."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from tests.services.eks.conftest import ACCOUNT, REGION, Roles, json_policy_validator

from podid.services.eks import Cluster, EksDomain, EksEvent
from podid.services.eks import associations as assoc_module
from podid.services.eks.errors import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceLimitExceededException,
    ResourceNotFoundException,
)
from podid.store import Store

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


@pytest.fixture
def cluster(make_cluster: Callable[..., Cluster]) -> Cluster:
    return make_cluster("demo")


def test_create_returns_every_field(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    role = roles.add("app-role")
    a = domain.associations.create(cluster, namespace="demo-ns", service_account="demo-sa", role_arn=role)
    assert re.fullmatch(r"a-[a-z0-9]{17}", a.association_id)
    out = a.to_api()
    assert (
        out["associationArn"]
        == f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/demo/{a.association_id}"
    )
    assert out["tags"] == {}
    assert out["disableSessionTags"] is False
    assert "externalId" not in out
    assert "targetRoleArn" not in out
    assert out["createdAt"] == out["modifiedAt"]
    assert domain.find_association(ACCOUNT, REGION, "demo", "demo-ns", "demo-sa") == a
    assert domain.associations_for(ACCOUNT, REGION, "demo") == [a]


def test_target_role_gets_external_id(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    a = domain.associations.create(
        cluster,
        namespace="default",
        service_account="demo-app-sa",
        role_arn=roles.add("account-a-role"),
        target_role_arn="arn:aws:iam::999988887777:role/account-b-role",
    )
    assert a.to_api()["externalId"] == f"{REGION}/{ACCOUNT}/demo/default/demo-app-sa"


def test_duplicate_identity_is_409(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    role = roles.add("r")
    first = domain.associations.create(cluster, namespace="ns", service_account="sa", role_arn=role)
    with pytest.raises(ResourceInUseException) as err:
        domain.associations.create(cluster, namespace="ns", service_account="sa", role_arn=role)
    assert err.value.status == 409
    assert err.value.message == f"Association already exists: {first.association_id}"


@pytest.mark.parametrize(
    ("role_arn", "message"),
    [
        ("arn:aws:iam::111122223333:role/missing", "Role provided in the request does not exist."),
        ("arn:aws:iam::444455556666:role/r", "belongs to account 444455556666"),
        ("not-an-arn", "Invalid roleArn"),
        ("arn:aws:iam::111122223333:user/bob", "Invalid roleArn"),
    ],
)
def test_role_must_exist_in_cluster_account(
    domain: EksDomain, cluster: Cluster, roles: Roles, role_arn: str, message: str
) -> None:
    roles.add("r", account="444455556666")
    with pytest.raises(InvalidParameterException, match=re.escape(message)) as err:
        domain.associations.create(cluster, namespace="ns", service_account="sa", role_arn=role_arn)
    assert err.value.status == 400
    assert err.value.fields["clusterName"] == "demo"


@pytest.mark.parametrize(
    ("namespace", "sa"),
    [("Demo", "sa"), ("ns_1", "sa"), ("", "sa"), ("ns", ""), ("ns", "SA"), ("x" * 64, "sa")],
)
def test_identity_names_are_kubernetes_names(
    domain: EksDomain, cluster: Cluster, roles: Roles, namespace: str, sa: str
) -> None:
    with pytest.raises(InvalidParameterException):
        domain.associations.create(cluster, namespace=namespace, service_account=sa, role_arn=roles.add("r"))


def test_policy_rules(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    role = roles.add("r")
    with pytest.raises(InvalidParameterException, match="PackedPolicyTooLarge"):
        domain.associations.create(
            cluster, namespace="ns", service_account="sa", role_arn=role, policy=POLICY
        )
    with pytest.raises(InvalidParameterException, match="at most 2048"):
        domain.associations.create(
            cluster,
            namespace="ns",
            service_account="sa",
            role_arn=role,
            disable_session_tags=True,
            policy=POLICY[:-1] + " " * 2100 + "}",
        )
    with pytest.raises(InvalidParameterException, match="not a valid IAM policy"):
        domain.associations.create(
            cluster,
            namespace="ns",
            service_account="sa",
            role_arn=role,
            disable_session_tags=True,
            policy="{}",
        )
    a = domain.associations.create(
        cluster, namespace="ns", service_account="sa", role_arn=role, disable_session_tags=True, policy=POLICY
    )
    assert a.to_api()["policy"] == POLICY
    # turning tags back on while a policy is set is refused too
    with pytest.raises(InvalidParameterException, match="PackedPolicyTooLarge"):
        domain.associations.update(cluster, a.association_id, disable_session_tags=False)


def test_client_request_token_idempotency(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    role = roles.add("r")
    one = domain.associations.create(
        cluster, namespace="ns", service_account="sa", role_arn=role, client_request_token="tok-1"
    )
    again = domain.associations.create(
        cluster, namespace="ns", service_account="sa", role_arn=role, client_request_token="tok-1"
    )
    assert again == one
    with pytest.raises(InvalidRequestException, match="clientRequestToken"):
        domain.associations.create(
            cluster, namespace="ns", service_account="other", role_arn=role, client_request_token="tok-1"
        )


def test_update(domain: EksDomain, cluster: Cluster, roles: Roles, clock: object) -> None:
    a = domain.associations.create(cluster, namespace="ns", service_account="sa", role_arn=roles.add("r"))
    with pytest.raises(InvalidParameterException, match="At least one"):
        domain.associations.update(cluster, a.association_id)
    clock.advance(5)  # type: ignore[attr-defined]
    b = domain.associations.update(
        cluster,
        a.association_id,
        role_arn=roles.add("r2"),
        target_role_arn="arn:aws:iam::999988887777:role/t",
    )
    assert b.role_arn.endswith("/r2")
    assert b.external_id == f"{REGION}/{ACCOUNT}/demo/ns/sa"
    assert b.modified_at > b.created_at
    c = domain.associations.update(cluster, a.association_id, target_role_arn="")
    assert c.target_role_arn is None
    assert "externalId" not in c.to_api()
    assert domain.find_association(ACCOUNT, REGION, "demo", "ns", "sa") == c
    with pytest.raises(ResourceNotFoundException):
        domain.associations.update(cluster, "a-00000000000000000", role_arn=c.role_arn)


def test_delete_and_describe_missing(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    a = domain.associations.create(cluster, namespace="ns", service_account="sa", role_arn=roles.add("r"))
    gone = domain.associations.delete(cluster, a.association_id)
    assert gone == a
    assert domain.find_association(ACCOUNT, REGION, "demo", "ns", "sa") is None
    with pytest.raises(ResourceNotFoundException) as err:
        domain.associations.get(cluster, a.association_id)
    assert err.value.status == 404


def test_list_filters_and_pagination(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    role = roles.add("r")
    made = [
        domain.associations.create(cluster, namespace=f"ns{i % 2}", service_account=f"sa{i}", role_arn=role)
        for i in range(7)
    ]
    seen: list[str] = []
    token: str | None = None
    while True:
        page, token = domain.associations.list(cluster, max_results=3, next_token=token)
        assert len(page) <= 3
        seen += [a.association_id for a in page]
        if token is None:
            break
    assert sorted(seen) == sorted(a.association_id for a in made)
    ns0, _ = domain.associations.list(cluster, namespace="ns0")
    assert {a.namespace for a in ns0} == {"ns0"}
    assert len(ns0) == 4
    only, _ = domain.associations.list(cluster, namespace="ns1", service_account="sa3")
    assert [a.service_account for a in only] == ["sa3"]
    with pytest.raises(InvalidParameterException, match="nextToken"):
        domain.associations.list(cluster, next_token="garbage!!")
    with pytest.raises(InvalidParameterException, match="maxResults"):
        domain.associations.list(cluster, max_results=101)


def test_limit_per_cluster(
    domain: EksDomain, cluster: Cluster, roles: Roles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assoc_module, "MAX_PER_CLUSTER", 3)
    role = roles.add("r")
    for i in range(3):
        domain.associations.create(cluster, namespace="ns", service_account=f"sa{i}", role_arn=role)
    with pytest.raises(ResourceLimitExceededException):
        domain.associations.create(cluster, namespace="ns", service_account="sa9", role_arn=role)


def test_events_and_persistence(clock: object, roles: Roles, tmp_path: object) -> None:
    path = f"{tmp_path}/podid.db"
    store = Store(path)
    domain = EksDomain(store, clock, roles, lambda: "http://h:1", validate_policy=json_policy_validator)  # type: ignore[arg-type]
    events: list[EksEvent] = []
    domain.add_listener(events.append)
    cluster = domain.create_cluster(ACCOUNT, REGION, "c1", role_arn=roles.add("cr"))
    a = domain.associations.create(cluster, namespace="ns", service_account="sa", role_arn=roles.add("r"))
    assert [(e.kind, e.action) for e in events] == [("cluster", "created"), ("association", "created")]
    store.close()
    reopened = EksDomain(Store(path), clock, roles, lambda: "http://h:1")  # type: ignore[arg-type]
    assert reopened.find_association(ACCOUNT, REGION, "c1", "ns", "sa") == a
    again = reopened.cluster_by_name(ACCOUNT, REGION, "c1")
    assert again is not None
    assert reopened.issuer_for(again).kid == domain.issuer_for(cluster).kid


def test_addon_owned_associations(domain: EksDomain, cluster: Cluster, roles: Roles) -> None:
    role = roles.add("ebs")
    addon = domain.create_addon(cluster, "vpc-cni", pod_identity_associations=[("aws-node", role)])
    (assoc,) = domain.associations_for(ACCOUNT, REGION, "demo")
    assert assoc.owner_arn == addon.arn
    assert assoc.namespace == "kube-system"
    assert list(addon.association_arns) == [assoc.arn]
    with pytest.raises(InvalidRequestException, match="owned"):
        domain.associations.delete(cluster, assoc.association_id)
    domain.delete_addon(cluster, "vpc-cni")
    assert domain.associations_for(ACCOUNT, REGION, "demo") == []
    # preserve keeps them, unowned
    domain.create_addon(cluster, "vpc-cni", pod_identity_associations=[("aws-node", role)])
    domain.delete_addon(cluster, "vpc-cni", preserve=True)
    (kept,) = domain.associations_for(ACCOUNT, REGION, "demo")
    assert kept.owner_arn is None
