"""`podid eksctl` IRSA commands as subprocesses against a real endpoint with the local runtime:
associate-iam-oidc-provider, create/get/delete iamserviceaccount, migrate-to-pod-identity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import podid

from podid.gateway.testing import RunningEndpoint, running_endpoint
from podid.iac.irsa import migrated_trust

pytestmark = pytest.mark.e2e

ACCOUNT = "111122223333"
CLUSTER = "irsa-demo"
S3_RO = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def service_account(state_dir: Path, namespace: str, name: str) -> dict[str, Any] | None:
    out = podid(state_dir, "kubectl", "get", "serviceaccount", name, "-n", namespace, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[RunningEndpoint, Path]]:
    state_dir = tmp_path / "state"
    with running_endpoint(state_dir, runtime=True) as ep:
        iam = ep.boto3_client("iam")
        role = iam.create_role(
            RoleName="cluster",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]}),
        )["Role"]["Arn"]  # fmt: skip
        ep.boto3_client("eks").create_cluster(name=CLUSTER, roleArn=role, resourcesVpcConfig={})
        yield ep, state_dir


def test_migrated_trust_keeps_then_drops_the_oidc_statement() -> None:
    irsa = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "irsa", "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/x/id/A"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"x/id/A:sub": "system:serviceaccount:a:b"}},
    }]})  # fmt: skip
    kept = json.loads(migrated_trust(irsa, remove_oidc_trust=False))["Statement"]
    assert kept[0]["Principal"] == {"Federated": ["arn:aws:iam::111122223333:oidc-provider/x/id/A"]}
    assert kept[0]["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert kept[0]["Sid"] == "irsa"
    assert kept[0]["Condition"] == {"StringEquals": {"x/id/A:sub": "system:serviceaccount:a:b"}}
    assert kept[1] == {
        "Effect": "Allow",
        "Principal": {"Service": ["pods.eks.amazonaws.com"]},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    # idempotent: a second run does not add the statement again
    assert json.loads(migrated_trust(json.dumps({"Statement": kept}), False))["Statement"] == kept
    dropped = json.loads(migrated_trust(irsa, remove_oidc_trust=True))["Statement"]
    assert dropped == [kept[1]]


def test_eksctl_irsa_lifecycle_and_migration(world: tuple[RunningEndpoint, Path]) -> None:
    ep, state_dir = world
    iam, eks = ep.boto3_client("iam"), ep.boto3_client("eks")
    issuer = eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
    provider_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.split('://', 1)[1]}"

    # without an OIDC provider, iamserviceaccounts are refused (eksctl's error)
    out = podid(state_dir, "eksctl", "create", "iamserviceaccount", "--cluster", CLUSTER, "--namespace",
                "demo-ns", "--name", "demo-sa", "--attach-policy-arn", S3_RO, "--approve")  # fmt: skip
    assert out.returncode == 1
    assert "Error: unable to create iamserviceaccount(s) without IAM OIDC provider enabled" in out.stderr

    # plan, then apply, then again (idempotent)
    out = podid(state_dir, "eksctl", "utils", "associate-iam-oidc-provider", "--cluster", CLUSTER)
    assert out.returncode == 0, out.stderr
    assert "will create IAM Open ID Connect provider" in out.stderr
    assert "run again with '--approve'" in out.stderr
    assert not iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    out = podid(
        state_dir, "eksctl", "utils", "associate-iam-oidc-provider", "--cluster", CLUSTER, "--approve"
    )
    assert out.returncode == 0, out.stderr
    assert f'created IAM Open ID Connect provider for cluster "{CLUSTER}"' in out.stderr
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert {"Key": "alpha.eksctl.io/cluster-name", "Value": CLUSTER} in got["Tags"]
    assert (
        eks.describe_cluster(name=CLUSTER)["cluster"]["tags"]["alpha.eksctl.io/cluster-oidc-enabled"]
        == "true"
    )
    out = podid(
        state_dir, "eksctl", "utils", "associate-iam-oidc-provider", "--cluster", CLUSTER, "--approve"
    )
    assert "is already associated" in out.stderr

    # iamserviceaccount: role with the IRSA trust, policies, the annotated service account
    out = podid(state_dir, "eksctl", "create", "iamserviceaccount", "--cluster", CLUSTER, "--namespace",
                "demo-ns", "--name", "demo-sa", "--attach-policy-arn", S3_RO, "--role-name", "demo-irsa",
                "--approve")  # fmt: skip
    assert out.returncode == 0, out.stderr
    role = iam.get_role(RoleName="demo-irsa")["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Federated": provider_arn}
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer.split('://', 1)[1]}:sub": "system:serviceaccount:demo-ns:demo-sa",
        f"{issuer.split('://', 1)[1]}:aud": "sts.amazonaws.com",
    }
    assert [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="demo-irsa")["AttachedPolicies"]
    ] == [S3_RO]
    sa = service_account(state_dir, "demo-ns", "demo-sa")
    assert sa is not None
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role["Arn"]
    out = podid(state_dir, "eksctl", "create", "iamserviceaccount", "--cluster", CLUSTER, "--namespace",
                "demo-ns", "--name", "other-sa", "--attach-policy-arn", S3_RO, "--approve")  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = podid(state_dir, "eksctl", "get", "iamserviceaccount", "--cluster", CLUSTER)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("\t")[0].strip() == "NAMESPACE"
    assert [line.split()[:2] for line in lines[1:]] == [["demo-ns", "demo-sa"], ["demo-ns", "other-sa"]]
    out = podid(state_dir, "eksctl", "delete", "iamserviceaccount", "--cluster", CLUSTER, "--namespace",
                "demo-ns", "--name", "other-sa", "--approve")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert service_account(state_dir, "demo-ns", "other-sa") is None
    out = podid(state_dir, "eksctl", "get", "iamserviceaccount", "--cluster", CLUSTER, "-o", "json")
    assert [s["metadata"]["name"] for s in json.loads(out.stdout)] == ["demo-sa"]

    # migration: the plan changes nothing
    out = podid(state_dir, "eksctl", "utils", "migrate-to-pod-identity", "--cluster", CLUSTER)
    assert out.returncode == 0, out.stderr
    assert 'will create pod identity association for service account "demo-ns/demo-sa"' in out.stderr
    assert not eks.list_pod_identity_associations(clusterName=CLUSTER)["associations"]
    # --approve: add-on, trust, association; the OIDC trust and the annotation stay
    out = podid(state_dir, "eksctl", "utils", "migrate-to-pod-identity", "--cluster", CLUSTER, "--approve")
    assert out.returncode == 0, out.stderr
    assert "eks-pod-identity-agent" in eks.list_addons(clusterName=CLUSTER)["addons"]
    associations = eks.list_pod_identity_associations(clusterName=CLUSTER)["associations"]
    assert [(a["namespace"], a["serviceAccount"]) for a in associations] == [("demo-ns", "demo-sa")]
    trust = iam.get_role(RoleName="demo-irsa")["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [
        {"Federated": [provider_arn]},
        {"Service": ["pods.eks.amazonaws.com"]},
    ]
    sa = service_account(state_dir, "demo-ns", "demo-sa")
    assert sa is not None
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    # a re-run with the flag removes the OIDC trust and the annotation, and skips the association
    out = podid(state_dir, "eksctl", "utils", "migrate-to-pod-identity", "--cluster", CLUSTER, "--approve",
                "--remove-oidc-provider-trust-relationship")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "already exists; skipping" in out.stderr
    trust = iam.get_role(RoleName="demo-irsa")["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": ["pods.eks.amazonaws.com"]}]
    sa = service_account(state_dir, "demo-ns", "demo-sa")
    assert sa is not None
    assert "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {})
    assert len(eks.list_pod_identity_associations(clusterName=CLUSTER)["associations"]) == 1
    # eksctl delete cluster also deletes the iamserviceaccount roles and the OIDC provider
    out = podid(state_dir, "eksctl", "delete", "cluster", "--name", CLUSTER)
    assert out.returncode == 0, out.stderr
    assert "deleted IAM Open ID Connect provider" in out.stderr
    assert not iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert "demo-irsa" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


CLUSTER_CONFIG = """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: irsa-config
  region: us-west-2
iam:
  withOIDC: true
  serviceAccounts:
    - metadata:
        name: demo-sa
        namespace: demo-ns
      attachPolicyARNs:
        - arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
      roleName: irsa-config-demo
addons: []
"""


def test_cluster_config_with_oidc_and_service_accounts(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with running_endpoint(state_dir, runtime=True) as ep:
        config = tmp_path / "cluster.yaml"
        config.write_text(CLUSTER_CONFIG)
        out = podid(state_dir, "eksctl", "create", "cluster", "-f", str(config))
        assert out.returncode == 0, out.stderr
        assert "iam.withOIDC" not in out.stderr  # acted on, not "accepted, has no effect locally"
        issuer = ep.boto3_client("eks").describe_cluster(name="irsa-config")["cluster"]["identity"]["oidc"][
            "issuer"
        ]
        hostpath = issuer.split("://", 1)[1]
        iam = ep.boto3_client("iam")
        providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        assert providers == [f"arn:aws:iam::{ACCOUNT}:oidc-provider/{hostpath}"]
        role = iam.get_role(RoleName="irsa-config-demo")["Role"]
        condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
        assert condition[f"{hostpath}:sub"] == "system:serviceaccount:demo-ns:demo-sa"
        sa = service_account(state_dir, "demo-ns", "demo-sa")
        assert sa is not None
        assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role["Arn"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(CLUSTER_CONFIG.replace("withOIDC: true", "withOIDC: false"))
    with running_endpoint(tmp_path / "state2", runtime=True):
        out = podid(tmp_path / "state2", "eksctl", "create", "cluster", "-f", str(bad))
        assert out.returncode == 1
        assert "iam.withOIDC must be enabled explicitly for iam.serviceAccounts to be created" in out.stderr
