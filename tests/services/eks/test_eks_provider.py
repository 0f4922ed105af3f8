"""The eks provider: operations over the domain, their authorization declarations, OIDC documents."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from tests.services.eks.conftest import ACCOUNT, BASE_URL, REGION, Roles

from podid.services.base import Call, Principal
from podid.services.eks import EksDomain, EksProvider, oidc_document
from podid.services.eks.errors import (
    BadRequestException,
    InvalidParameterException,
    NotFoundException,
    ResourceInUseException,
    ResourceNotFoundException,
)

ROOT = Principal(
    kind="root", arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT, user_id=ACCOUNT, name=ACCOUNT
)


def make_call(operation: str) -> Call:
    return Call(
        request_id="r",
        service="eks",
        operation=operation,
        region=REGION,
        principal=ROOT,
        now=datetime.now(UTC),
    )


@pytest.fixture
def invoke(domain: EksDomain) -> Callable[..., dict[str, Any]]:
    provider = EksProvider(domain)
    ops = provider.operations()

    def run(operation: str, **params: Any) -> dict[str, Any]:
        spec = ops[operation]
        result: dict[str, Any] = getattr(provider, spec.handler_name)(make_call(operation), params)
        return result

    return run


def _create(
    invoke: Callable[..., dict[str, Any]], roles: Roles, name: str = "demo", **kw: Any
) -> dict[str, Any]:
    out: dict[str, Any] = invoke(
        "CreateCluster",
        name=name,
        roleArn=roles.add("cluster-role"),
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        **kw,
    )["cluster"]
    return out


def test_every_model_operation_of_the_issue_is_implemented(domain: EksDomain) -> None:
    ops = set(EksProvider(domain).operations())
    wanted = {
        "CreateCluster", "DescribeCluster", "ListClusters", "DeleteCluster",
        "CreateNodegroup", "DescribeNodegroup", "ListNodegroups", "DeleteNodegroup",
        "CreateAddon", "DescribeAddon", "ListAddons", "DeleteAddon", "DescribeAddonVersions",
        "CreatePodIdentityAssociation", "DescribePodIdentityAssociation", "UpdatePodIdentityAssociation",
        "DeletePodIdentityAssociation", "ListPodIdentityAssociations",
        "TagResource", "UntagResource", "ListTagsForResource",
    }  # fmt: skip
    assert wanted <= ops


def test_cluster_lifecycle(invoke: Callable[..., dict[str, Any]], roles: Roles) -> None:
    created = _create(invoke, roles, version="1.28", tags={"team": "a"})
    assert created["status"] == "CREATING"
    described = invoke("DescribeCluster", name="demo")["cluster"]
    assert described["status"] == "ACTIVE"
    assert described["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/demo"
    assert described["version"] == "1.28"
    assert described["tags"] == {"team": "a"}
    assert described["resourcesVpcConfig"]["subnetIds"] == ["subnet-1"]
    issuer = described["identity"]["oidc"]["issuer"]
    cluster_id = issuer.rsplit("/", 1)[1]
    assert issuer == f"{BASE_URL}/oidc/id/{cluster_id}"
    assert len(cluster_id) == 32
    assert cluster_id == cluster_id.upper()
    assert described["endpoint"] == f"https://{cluster_id}.gr7.{REGION}.eks.amazonaws.com"
    cert = x509.load_pem_x509_certificate(base64.b64decode(described["certificateAuthority"]["data"]))
    assert cert.subject.rfc4514_string() == "CN=kubernetes"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert invoke("ListClusters") == {"clusters": ["demo"]}
    with pytest.raises(ResourceInUseException, match="Cluster already exists with name: demo"):
        _create(invoke, roles)
    assert invoke("DeleteCluster", name="demo")["cluster"]["status"] == "DELETING"
    with pytest.raises(ResourceNotFoundException, match=r"No cluster found for name: demo\."):
        invoke("DescribeCluster", name="demo")


@pytest.mark.parametrize("version", ["1.23", "1.28", "1.35"])
def test_supported_versions(invoke: Callable[..., dict[str, Any]], roles: Roles, version: str) -> None:
    assert _create(invoke, roles, version=version)["version"] == version


@pytest.mark.parametrize("version", ["1.22", "2.0", "latest"])
def test_unsupported_versions(invoke: Callable[..., dict[str, Any]], roles: Roles, version: str) -> None:
    with pytest.raises(InvalidParameterException, match="unsupported Kubernetes version"):
        _create(invoke, roles, version=version)


def test_list_clusters_pagination(invoke: Callable[..., dict[str, Any]], roles: Roles) -> None:
    for i in range(3):
        _create(invoke, roles, name=f"c{i}")
    first = invoke("ListClusters", maxResults=2)
    assert first["clusters"] == ["c0", "c1"]
    second = invoke("ListClusters", maxResults=2, nextToken=first["nextToken"])
    assert second == {"clusters": ["c2"]}


def test_nodegroups(invoke: Callable[..., dict[str, Any]], roles: Roles) -> None:
    _create(invoke, roles, version="1.28")
    node_role = roles.add("node-role")
    ng = invoke(
        "CreateNodegroup",
        clusterName="demo",
        nodegroupName="ng-1",
        nodeRole=node_role,
        subnets=[],
        scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
        instanceTypes=["m5.large"],
        labels={"role": "worker"},
    )["nodegroup"]
    assert ng["status"] == "CREATING"
    got = invoke("DescribeNodegroup", clusterName="demo", nodegroupName="ng-1")["nodegroup"]
    assert got["status"] == "ACTIVE"
    assert got["nodeRole"] == node_role
    assert got["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 2}
    assert got["instanceTypes"] == ["m5.large"]
    assert got["labels"] == {"role": "worker"}
    assert got["version"] == "1.28"
    assert got["nodegroupArn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/demo/ng-1/")
    assert invoke("ListNodegroups", clusterName="demo") == {"nodegroups": ["ng-1"]}
    with pytest.raises(ResourceInUseException, match="nodegroups attached"):
        invoke("DeleteCluster", name="demo")
    invoke("DeleteNodegroup", clusterName="demo", nodegroupName="ng-1")
    with pytest.raises(ResourceNotFoundException):
        invoke("DescribeNodegroup", clusterName="demo", nodegroupName="ng-1")
    invoke("DeleteCluster", name="demo")


def test_addons_and_versions(invoke: Callable[..., dict[str, Any]], roles: Roles) -> None:
    _create(invoke, roles, version="1.28")
    versions = invoke("DescribeAddonVersions", kubernetesVersion="1.28")["addons"]
    names = {a["addonName"] for a in versions}
    assert {"eks-pod-identity-agent", "vpc-cni", "coredns", "kube-proxy"} <= names
    created = invoke("CreateAddon", clusterName="demo", addonName="eks-pod-identity-agent")["addon"]
    assert created["status"] == "CREATING"
    got = invoke("DescribeAddon", clusterName="demo", addonName="eks-pod-identity-agent")["addon"]
    assert got["status"] == "ACTIVE"
    assert got["addonVersion"].endswith("-eksbuild.2") or "eksbuild" in got["addonVersion"]
    assert invoke("ListAddons", clusterName="demo") == {"addons": ["eks-pod-identity-agent"]}
    with pytest.raises(InvalidParameterException):
        invoke("CreateAddon", clusterName="demo", addonName="no-such-addon")
    with pytest.raises(InvalidParameterException):
        invoke("CreateAddon", clusterName="demo", addonName="coredns", addonVersion="v0.0.1")
    with pytest.raises(ResourceNotFoundException, match="No addon: coredns found in cluster: demo"):
        invoke("DescribeAddon", clusterName="demo", addonName="coredns")
    invoke("DeleteAddon", clusterName="demo", addonName="eks-pod-identity-agent")
    assert invoke("ListAddons", clusterName="demo") == {"addons": []}


def test_tags_on_every_resource_kind(invoke: Callable[..., dict[str, Any]], roles: Roles) -> None:
    cluster = _create(invoke, roles)
    assoc = invoke(
        "CreatePodIdentityAssociation",
        clusterName="demo",
        namespace="ns",
        serviceAccount="sa",
        roleArn=roles.add("r"),
        tags={"a": "1"},
    )["association"]
    for arn in (cluster["arn"], assoc["associationArn"]):
        invoke("TagResource", resourceArn=arn, tags={"b": "2"})
        tags = invoke("ListTagsForResource", resourceArn=arn)["tags"]
        assert tags["b"] == "2"
        invoke("UntagResource", resourceArn=arn, tagKeys=["b"])
        assert "b" not in invoke("ListTagsForResource", resourceArn=arn)["tags"]
    assert invoke("ListTagsForResource", resourceArn=assoc["associationArn"])["tags"] == {"a": "1"}
    with pytest.raises(NotFoundException):
        invoke("ListTagsForResource", resourceArn=f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/nope")
    with pytest.raises(BadRequestException):
        invoke("ListTagsForResource", resourceArn="garbage")
    with pytest.raises(BadRequestException):
        invoke("TagResource", resourceArn=cluster["arn"], tags={"aws:x": "1"})


def test_association_authz_declares_pass_role(domain: EksDomain) -> None:
    spec = EksProvider(domain).operations()["CreatePodIdentityAssociation"]
    assert spec.authz is not None
    checks = spec.authz(
        make_call("CreatePodIdentityAssociation"),
        {"clusterName": "demo", "namespace": "n", "serviceAccount": "s", "roleArn": "arn:aws:iam::1:role/r"},
    )
    assert [c.action for c in checks] == ["eks:CreatePodIdentityAssociation", "iam:PassRole"]
    assert checks[0].resource == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/demo"
    assert checks[1].resource == "arn:aws:iam::1:role/r"
    assert checks[1].context == {"iam:PassedToService": "pods.eks.amazonaws.com"}


def test_oidc_documents(invoke: Callable[..., dict[str, Any]], roles: Roles, domain: EksDomain) -> None:
    issuer = _create(invoke, roles)["identity"]["oidc"]["issuer"]
    path = issuer[len(BASE_URL) :]
    status, doc = oidc_document(domain, path + "/.well-known/openid-configuration")  # type: ignore[misc]
    assert status == 200
    assert doc["issuer"] == issuer
    assert doc["jwks_uri"] == issuer + "/keys"
    status, jwks = oidc_document(domain, path + "/keys")  # type: ignore[misc]
    assert status == 200
    assert jwks["keys"][0]["kty"] == "RSA"
    assert oidc_document(domain, "/oidc/id/" + "0" * 32 + "/keys") == (404, {"message": "Not Found"})
    assert oidc_document(domain, path + "/other") == (404, {"message": "Not Found"})
    assert oidc_document(domain, "/clusters") is None
