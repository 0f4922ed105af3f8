"""The ClusterConfig schema and config: strict decoding with field paths, defaults, semantic checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podid.iac.eksctl.config import ClusterConfig, load_config, parse_config
from podid.iac.eksctl.schema import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def base(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": "c1", "region": "us-west-2"},
    }
    doc.update(extra)
    return doc


def test_walkthrough_cluster_yaml() -> None:
    cfg = load_config(EXAMPLES / "cluster.yaml")
    assert isinstance(cfg, ClusterConfig)
    assert (cfg.name, cfg.region, cfg.version) == ("eks-pod-identity-demo", "us-west-2", "1.28")
    assert [a.name for a in cfg.addons] == ["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"]
    (group,) = cfg.node_groups
    assert group.managed
    assert (group.name, group.instance_types, group.min_size, group.desired, group.max_size) == (
        "eks-shared-demo-mng",
        ("t3.medium",),
        2,
        2,
        5,
    )
    assert cfg.no_effect == ("managedNodeGroups[0].privateNetworking",)


def test_walkthrough_files_parse() -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "demo-app.yaml").read_text()))
    assert [d["kind"] for d in docs] == ["Namespace", "ServiceAccount", "Deployment"]
    assert docs[1]["automountServiceAccountToken"] is False
    container = docs[2]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sleep", "infinity"]
    assert container["securityContext"]["runAsUser"] == 1
    trust = yaml.safe_load((EXAMPLES / "eks-pod-identity-trust-policy.json").read_text())
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            base(managedNodeGroups=[{"name": "ng", "instanceTyp": "t3.medium"}]),
            'json: unknown field "managedNodeGroups[0].instanceTyp"',
        ),
        (base(metadata={"name": "c1", "regoin": "x"}), 'json: unknown field "metadata.regoin"'),
        (base(nodegroups=[]), 'json: unknown field "nodegroups"'),
        (
            base(iam={"podIdentityAssociations": [{"namespace": "a", "serviceAccount": "b"}]}),
            'json: unknown field "iam.podIdentityAssociations[0].serviceAccount"',
        ),
        (
            base(managedNodeGroups=[{"name": "ng", "minSize": "2"}]),
            "json: cannot unmarshal string into Go struct field ManagedNodeGroup.managedNodeGroups[0].minSize"
            " of type int",
        ),
        (
            base(metadata={"name": "c1", "version": 1.28}),
            "json: cannot unmarshal number into Go struct field ClusterMeta.metadata.version of type string",
        ),
        (
            base(addons={"name": "vpc-cni"}),
            "json: cannot unmarshal object into Go struct field ClusterConfig.addons"
            " of type []*v1alpha5.Addon",
        ),
        (
            base(managedNodeGroups=[{"name": "ng", "privateNetworking": "yes"}]),
            "json: cannot unmarshal string into Go struct field ManagedNodeGroup.managedNodeGroups[0]."
            "privateNetworking of type bool",
        ),
        (
            base(metadata={"name": "c1", "tags": {"a": 1}}),
            "json: cannot unmarshal number into Go struct field ClusterMeta.metadata.tags.a of type string",
        ),
        (
            base(managedNodeGroups=[{"name": "ng", "minSize": True}]),
            "json: cannot unmarshal bool into Go struct field ManagedNodeGroup.managedNodeGroups[0].minSize"
            " of type int",
        ),
    ],
)
def test_schema_errors_name_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert info.value.message == message


def test_file_errors_carry_eksctl_prefix(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base(managedNodeGroups=[{"name": "ng", "instanceTyp": "x"}])))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message == (
        f'loading config file "{path}": error unmarshaling JSON: while decoding JSON: '
        'json: unknown field "managedNodeGroups[0].instanceTyp"'
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({**base(), "kind": "Cluster"}, 'kind "Cluster" is not supported: use kind: ClusterConfig'),
        ({**base(), "apiVersion": "eksctl.io/v1"}, 'no kind "ClusterConfig" is registered for version'),
        (base(metadata={"region": "us-west-2"}), "metadata.name must be set"),
        (
            base(managedNodeGroups=[{"name": "ng", "minSize": 3, "maxSize": 2}]),
            "managedNodeGroups[0]: minSize (3) cannot be greater than maxSize (2)",
        ),
        (
            base(managedNodeGroups=[{"name": "ng", "minSize": 1, "desiredCapacity": 4, "maxSize": 2}]),
            "managedNodeGroups[0]: desiredCapacity (4) must be between minSize (1) and maxSize (2)",
        ),
        (
            base(iam={"podIdentityAssociations": [{"namespace": "a", "serviceAccountName": "b"}]}),
            "iam.podIdentityAssociations[0]: at least one of the following must be specified",
        ),
        (
            base(addons=[{"name": "a"}, {"name": "a"}]),
            'addons: addon "a" is defined more than once',
        ),
        ([1, 2], "json: cannot unmarshal array into Go value of type v1alpha5.ClusterConfig"),
    ],
)
def test_semantic_errors(doc: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert info.value.message.startswith(message)


def test_defaults_and_region_fallback() -> None:
    cfg = parse_config(
        {
            **base(managedNodeGroups=[{"name": "a"}, {"name": "b", "desiredCapacity": 3}]),
            "metadata": {"name": "c"},
        },
        region="eu-west-1",
    )
    a, b = cfg.node_groups
    assert (a.min_size, a.desired, a.max_size, a.instance_types, a.volume_size) == (
        2,
        2,
        2,
        ("m5.large",),
        80,
    )
    assert (b.min_size, b.desired, b.max_size) == (3, 3, 3)
    assert cfg.region == "eu-west-1"


def test_pod_identities_and_no_effect_reported_once() -> None:
    cfg = parse_config(
        base(
            vpc={"cidr": "10.0.0.0/16"},
            iam={
                "withOIDC": True,
                "podIdentityAssociations": [
                    {
                        "namespace": "demo-ns",
                        "serviceAccountName": "demo-sa",
                        "permissionPolicyARNs": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
                        "wellKnownPolicies": {"ebsCSIController": True, "autoScaler": False},
                        "createServiceAccount": True,
                        "tags": {"team": "a"},
                    }
                ],
            },
            addons=[
                {
                    "name": "eks-pod-identity-agent",
                    "version": "latest",
                    "podIdentityAssociations": [
                        {"serviceAccountName": "x", "roleARN": "arn:aws:iam::1:role/r"}
                    ],
                }
            ],
            nodeGroups=[{"name": "ng", "ssh": {"allow": True}, "privateNetworking": True}],
        )
    )
    (identity,) = cfg.pod_identities
    assert identity.needs_role
    assert identity.well_known_policies == ("ebsCSIController",)
    assert identity.create_service_account
    (addon,) = cfg.addons
    assert addon.version == ""
    assert addon.pod_identities[0].namespace == "kube-system"
    assert not cfg.node_groups[0].managed
    assert cfg.with_oidc  # acted on by podid.iac.irsa (IRSA)
    assert cfg.no_effect == (
        "vpc",
        "nodeGroups[0].ssh",
        "nodeGroups[0].privateNetworking",
    )


def test_null_is_accepted_anywhere() -> None:
    cfg = parse_config(base(addons=None, managedNodeGroups=[{"name": "ng", "labels": None, "minSize": None}]))
    assert cfg.node_groups[0].labels == {}
