"""SigV4 end to end with both of botocore's signers: its Python one and the CRT one (awscrt).

botocore signs with `awscrt` when it is installed unless `BOTO_DISABLE_CRT=true`; the aws CLI v1
(which vendors botocore) does the same. Each signer runs in its own process against one real
endpoint: boto3 (tests/e2e/signer_client.py) and the aws CLI, for IAM, STS, EKS, EKS Auth and S3,
and each process proves which signer it used (botocore's auth table; the Python signer's debug log
lines, which the CRT signer does not write) and that a wrong secret is still refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.serve_support import REGION, Credentials, aws, base_env
from tests.support.errors import wrong_secret as altered_secret

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

ACCOUNT = "111122223333"
SIGNERS = {"python": {"BOTO_DISABLE_CRT": "true"}, "crt": {}}
LABELS = ["python", "crt", "cli-python", "cli-crt"]
CLIENT = Path(__file__).with_name("signer_client.py")


def _trust(principal: dict[str, str], actions: list[str]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": actions}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _allow(action: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    )


class World:
    def __init__(self, ep: RunningEndpoint) -> None:
        self.ep = ep
        iam, eks, sts = ep.boto3_client("iam"), ep.boto3_client("eks"), ep.boto3_client("sts")
        admin_arn = f"arn:aws:iam::{ACCOUNT}:user/admin"
        self.admin = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)
        self.trust = _trust({"AWS": admin_arn}, ["sts:AssumeRole", "sts:TagSession"])
        self.app_role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=self.trust)["Role"]["Arn"]
        pods = _trust({"Service": "pods.eks.amazonaws.com"}, ["sts:AssumeRole", "sts:TagSession"])
        self.pod_role = iam.create_role(RoleName="pod-role", AssumeRolePolicyDocument=pods)["Role"]["Arn"]
        eks.create_cluster(
            name="demo-cluster",
            roleArn=self.pod_role,
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        )
        iam.create_role(
            RoleName="node-role",
            AssumeRolePolicyDocument=_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ["sts:AssumeRole"]),
        )
        iam.put_role_policy(
            RoleName="node-role",
            PolicyName="node",
            PolicyDocument=_allow("eks-auth:AssumeRoleForPodIdentity"),
        )
        node = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/node-role", RoleSessionName="i-0abc")[
            "Credentials"
        ]
        self.node = Credentials(node["AccessKeyId"], node["SecretAccessKey"], node["SessionToken"])
        self.tokens = {label: self.pod_token(f"ns-{label}", "sa") for label in LABELS}

    def pod_token(self, namespace: str, sa: str) -> str:
        domain = self.ep.endpoint.services.eks

        def issue() -> str:
            cluster = domain.cluster_by_name(ACCOUNT, REGION, "demo-cluster")
            return str(
                domain.issuer_for(cluster).issue(
                    namespace,
                    sa,
                    audience=["pods.eks.amazonaws.com"],
                    duration_s=3600,
                    pod_name="app",
                    pod_uid="4b0f1f1e-0000-4000-8000-000000000002",
                    now=self.ep.endpoint.clock.now(),
                )
            )

        return self.ep.call(issue)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_endpoint(tmp_path_factory.mktemp("signers"), account_id=ACCOUNT) as ep:
        yield World(ep)


def _creds(c: Credentials) -> dict[str, str]:
    out = {"key": c.access_key_id, "secret": c.secret_access_key}
    if c.session_token:
        out["token"] = c.session_token
    return out


@pytest.mark.parametrize("signer", list(SIGNERS))
def test_boto3(world: World, signer: str) -> None:
    job = {
        "url": world.ep.url,
        "region": REGION,
        "label": signer,
        "admin": _creds(world.admin),
        "node": _creds(world.node),
        "trust": world.trust,
        "app_role": world.app_role,
        "pod_role": world.pod_role,
        "tokens": world.tokens,
    }
    done = subprocess.run(
        [sys.executable, str(CLIENT)],
        input=json.dumps(job),
        env=base_env(**SIGNERS[signer]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    module = "botocore.crt.auth" if signer == "crt" else "botocore.auth"
    assert report["signers"] == {"v4": module, "s3v4": module, "v4-query": module}
    assert report["iam"] == "Signed by botocore: spaces, ü, +/=,.@-_ and ~"
    assert report["iam_list"] == [f"signer-{signer}"]  # listed under its own path
    assert report["sts"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert report["sts_session"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/sig-{signer}"
    assert report["sts_presigned"] == 200
    assert report["eks_clusters"] == ["demo-cluster"]
    assert report["eks_listed"] == [True]
    assert report["eks_auth"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/pod-role/eks-demo-clust-app-")
    assert report["s3_get"] == report["s3_presigned"] == 7000
    assert report["s3_list"] == ["dir/ü x+y=z.txt"]
    # the same signer with a wrong secret is refused by every protocol
    assert report["sts_wrong"] == ["SignatureDoesNotMatch", 403]
    assert report["eks_wrong"] == ["InvalidSignatureException", 403]
    assert report["eks_auth_wrong"] == ["InvalidSignatureException", 403]
    assert report["s3_wrong"] == ["SignatureDoesNotMatch", 403]


PYTHON_SIGNER_LOG = "Calculating signature using v4 auth."


@pytest.mark.parametrize("signer", list(SIGNERS))
def test_aws_cli(world: World, signer: str, tmp_path: Path) -> None:
    label = f"cli-{signer}"
    env = SIGNERS[signer]
    url = world.ep.url
    # set-up through the admin's boto3 client; the CLI processes below only make the signed calls
    world.ep.boto3_client("eks").create_pod_identity_association(
        clusterName="demo-cluster", namespace=f"ns-{label}", serviceAccount="sa", roleArn=world.pod_role
    )
    s3 = world.ep.boto3_client("s3")
    bucket = f"signer-{label}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    source = tmp_path / "payload.txt"
    source.write_bytes(b"cli " * 5000)

    def cli(*args: str, creds: Credentials = world.admin) -> Any:
        done = aws(url, creds, *args, "--debug", extra_env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        # the Python signer logs its canonical request; the CRT signer signs without a word
        assert (PYTHON_SIGNER_LOG in done.stderr) is (signer == "python"), done.stderr[-3000:]
        return json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout

    def iam_and_sts() -> None:
        assert cli("sts", "get-caller-identity")["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
        created = cli(
            "iam", "create-role", "--role-name", f"signer-{label}", "--path", "/cli/",
            "--description", "aws CLI: spaces, ü, +/=", "--assume-role-policy-document", world.trust,
        )  # fmt: skip
        assert created["Role"]["Description"] == "aws CLI: spaces, ü, +/="

    def session() -> None:
        assumed = cli("sts", "assume-role", "--role-arn", world.app_role, "--role-session-name", label)
        creds = assumed["Credentials"]
        temp = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        assert cli("sts", "get-caller-identity", creds=temp)["Arn"].endswith(f":assumed-role/app/{label}")

    def eks() -> None:
        assert cli("eks", "describe-cluster", "--name", "demo-cluster")["cluster"]["name"] == "demo-cluster"
        out = cli(
            "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "demo-cluster",
            "--token", world.tokens[label], creds=world.node,
        )  # fmt: skip
        assert out["subject"] == {"namespace": f"ns-{label}", "serviceAccount": "sa"}

    def objects() -> None:
        cli("s3", "cp", str(source), f"s3://{bucket}/dir/ü x+y.txt")
        back = tmp_path / "back.txt"
        cli("s3", "cp", f"s3://{bucket}/dir/ü x+y.txt", str(back))
        assert back.read_bytes() == source.read_bytes()

    def wrong_secret() -> None:
        wrong = Credentials(world.admin.access_key_id, altered_secret(world.admin.secret_access_key))
        refused = aws(url, wrong, "sts", "get-caller-identity", extra_env=env)
        assert refused.returncode != 0
        assert "(SignatureDoesNotMatch)" in refused.stderr

    # independent chains of CLI processes run side by side (each CLI start costs about a second)
    with ThreadPoolExecutor(max_workers=5) as pool:
        for future in [pool.submit(f) for f in (iam_and_sts, session, eks, objects, wrong_secret)]:
            future.result()
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("dir/ü x+y.txt", 20000)]
