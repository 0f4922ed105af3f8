"""The walkthrough's `demo-app.yaml` on IRSA: the annotation, no Pod Identity association.

A real endpoint with the local runtime; the cluster's issuer registered as an IAM OIDC provider
(`identity.oidc.issuer`, as `eksctl utils associate-iam-oidc-provider` does); a role with EKS's IRSA
trust policy; `demo-app.yaml` applied with `$POD_ROLE_ARN` substituted (as the walkthrough's
`envsubst` does). The webhook injects the IRSA env and the `aws-iam-token` projected volume, the
runtime projects the token (audience `sts.amazonaws.com`), and the aws CLI v1 inside the pod gets
credentials through botocore's own web-identity provider (an unsigned AssumeRoleWithWebIdentity to
`AWS_ENDPOINT_URL`): `get-caller-identity` shows the role and a `botocore-session-<epoch>` session.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.cli import kubectl

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACCOUNT = "111122223333"
CLUSTER = "eks-pod-identity-demo"
ROLE_NAME = "s3-app-irsa-role"


def trust(principal: dict[str, str], action: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": action}],
        }
    )


def wait_until(check: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running_pods(state_dir: Path, namespace: str) -> list[str]:
    out = kubectl(state_dir, "get", "pods", "-n", namespace, "-o", "json")
    if out.returncode != 0:
        return []
    return [
        p["metadata"]["name"]
        for p in json.loads(out.stdout).get("items") or []
        if (p.get("status") or {}).get("phase") == "Running"
        and all(c.get("ready") for c in p["status"].get("containerStatuses") or [])
    ]


@pytest.fixture
def irsa_cluster(tmp_path: Path) -> Iterator[tuple[RunningEndpoint, Path, str]]:
    state_dir = tmp_path / "state"
    with running_endpoint(state_dir, runtime=True) as ep:
        iam = ep.boto3_client("iam")
        node_role = iam.create_role(
            RoleName="eks-node-role",
            AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}, "sts:AssumeRole"),
        )["Role"]["Arn"]
        cluster_role = iam.create_role(
            RoleName="eks-cluster-role",
            AssumeRolePolicyDocument=trust({"Service": "eks.amazonaws.com"}, "sts:AssumeRole"),
        )["Role"]["Arn"]
        eks = ep.boto3_client("eks")
        issuer = eks.create_cluster(
            name=CLUSTER, roleArn=cluster_role, resourcesVpcConfig={"subnetIds": ["subnet-1"]}
        )["cluster"]["identity"]["oidc"]["issuer"]
        eks.create_nodegroup(
            clusterName=CLUSTER,
            nodegroupName="ng-1",
            nodeRole=node_role,
            subnets=["subnet-1"],
            scalingConfig={"minSize": 1, "maxSize": 1, "desiredSize": 1},
        )
        # IRSA setup (EKS user guide): the OIDC provider, then the role trusting it for demo-ns/demo-sa
        provider = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])[
            "OpenIDConnectProviderArn"
        ]
        hostpath = issuer.split("://", 1)[1]
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{hostpath}:sub": "system:serviceaccount:demo-ns:demo-sa",
                            f"{hostpath}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
        role_arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(document))["Role"][
            "Arn"
        ]
        iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        yield ep, state_dir, role_arn


def test_demo_app_runs_on_irsa(irsa_cluster: tuple[RunningEndpoint, Path, str]) -> None:
    ep, state_dir, role_arn = irsa_cluster
    manifest = state_dir.parent / "demo-app.yaml"
    manifest.write_text((EXAMPLES / "demo-app.yaml").read_text().replace("$POD_ROLE_ARN", role_arn))
    out = kubectl(state_dir, "apply", "-f", str(manifest))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: len(running_pods(state_dir, "demo-ns")) == 2, "two running awscli-app pods")
    pod = running_pods(state_dir, "demo-ns")[0]

    # the webhook's IRSA mutation, as the pod spec shows it
    spec = json.loads(kubectl(state_dir, "get", "pod", "-n", "demo-ns", pod, "-o", "json").stdout)["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "aws-iam-token")
    assert volume["projected"]["sources"] == [
        {
            "serviceAccountToken": {
                "audience": "sts.amazonaws.com",
                "expirationSeconds": 86400,
                "path": "token",
            }
        }
    ]
    container = spec["containers"][0]
    assert [e["name"] for e in container["env"]] == [
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ]
    mount_path = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
    assert {"name": "aws-iam-token", "readOnly": True, "mountPath": mount_path} in container["volumeMounts"]
    pod_json = json.loads(kubectl(state_dir, "get", "pod", "-n", "demo-ns", pod, "-o", "json").stdout)
    assert "eks.amazonaws.com/pod-identity" not in (pod_json["metadata"].get("labels") or {})

    # inside the pod: botocore's web-identity provider, through the endpoint. The aws CLI caches
    # web-identity credentials under ~/.aws/cli/cache, and uid 1's home is not writable: exactly the
    # "[Errno 13] Permission denied: '<home>/.aws'" that non-root aws-cli pods hit on EKS with IRSA
    # (aws/aws-cli#9075, aws-controllers-k8s/test-infra#137). Pod Identity's container provider does
    # not cache to disk, which is why the walkthrough's pod works there as is.
    if os.geteuid() == 0:
        out = kubectl(state_dir, "exec", "-n", "demo-ns", pod, "--", "aws", "sts", "get-caller-identity")
        assert out.returncode != 0
        assert "[Errno 13] Permission denied" in out.stderr
        assert "/.aws" in out.stderr
    # the usual workaround (a writable HOME), then the same call succeeds
    out = kubectl(state_dir, "exec", "-n", "demo-ns", pod, "--", "env", "HOME=/tmp", "aws", "sts",
                  "get-caller-identity")  # fmt: skip
    assert out.returncode == 0, out.stderr + out.stdout
    session = rf"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/botocore-session-\d+"
    assert re.fullmatch(session, json.loads(out.stdout)["Arn"])
    out = kubectl(state_dir, "exec", "-n", "demo-ns", pod, "--", "env", "HOME=/tmp", "aws", "s3api",
                  "list-buckets")  # fmt: skip
    assert out.returncode == 0, out.stderr + out.stdout
    # boto3 (no disk cache) needs no workaround
    script = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
    out = kubectl(state_dir, "exec", "-n", "demo-ns", pod, "--", "python", "-c", script)
    assert out.returncode == 0, out.stderr + out.stdout
    assert re.fullmatch(session, out.stdout.strip())

    out = kubectl(
        state_dir, "exec", "-n", "demo-ns", pod, "--", "sh", "-c", 'env; cat "$AWS_WEB_IDENTITY_TOKEN_FILE"'
    )
    lines = out.stdout.splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("ey"))
    assert env["AWS_ROLE_ARN"] == role_arn
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in env
    if os.geteuid() == 0:  # real mounts: the token file is at the path the webhook names
        assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    token = lines[-1]
    claims = json.loads(_b64(token.split(".")[1]))
    assert claims["aud"] == ["sts.amazonaws.com"]
    assert claims["sub"] == "system:serviceaccount:demo-ns:demo-sa"
    assert claims["kubernetes.io"]["pod"]["name"] == pod

    # the audit log shows the unsigned exchange
    events = ep.call(lambda: list(ep.endpoint.audit.recent))
    exchanges = [e for e in events if e.get("eventName") == "AssumeRoleWithWebIdentity"]
    assert exchanges
    assert all(e["httpStatus"] == 200 for e in exchanges)


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
