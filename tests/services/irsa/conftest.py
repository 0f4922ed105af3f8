"""IRSA fixtures: a real endpoint with one cluster, its issuer registered as an IAM OIDC provider, and
a role whose trust policy is EKS's canonical IRSA trust for `demo-ns/demo-sa`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.config import Config

from podid.gateway.testing import RunningEndpoint, running_endpoint

ACCOUNT = "111122223333"
REGION = "us-west-2"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/s3-reader"
SUB = "system:serviceaccount:demo-ns:demo-sa"


def irsa_trust(provider_arn: str, issuer_hostpath: str, sub: str = SUB, like: bool = False) -> str:
    """EKS's canonical IRSA trust policy (EKS user guide, Step 2)."""
    operator = "StringLike" if like else "StringEquals"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        operator: {
                            f"{issuer_hostpath}:sub": sub,
                            f"{issuer_hostpath}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


@dataclass
class IrsaWorld:
    ep: RunningEndpoint
    cluster: str
    issuer: str
    provider_arn: str

    @property
    def hostpath(self) -> str:
        return self.issuer.split("://", 1)[1]

    def iam(self) -> Any:
        return self.ep.boto3_client("iam")

    def unsigned_sts(self) -> Any:
        return self.ep.boto3_client("sts", config=Config(signature_version=UNSIGNED))

    def sts_as(self, credentials: dict[str, Any]) -> Any:
        return self.ep.client(
            "sts", credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
        )

    def on_issuer(self, func: Callable[[Any], str], cluster: str | None = None) -> str:
        """Run `func(TokenIssuer)` for a cluster of this endpoint, on the endpoint's loop."""
        eks = self.ep.endpoint.services.eks

        def run() -> str:
            found = eks.cluster_by_name(ACCOUNT, REGION, cluster or self.cluster)
            return func(eks.issuer_for(found))

        return self.ep.call(run)

    def token(
        self,
        sa: str = "demo-sa",
        namespace: str = "demo-ns",
        audience: tuple[str, ...] = ("sts.amazonaws.com",),
        cluster: str | None = None,
        extra: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A projected-style token; keyword claims and `extra` override (None removes the claim)."""

        def make(issuer: Any) -> str:
            body = issuer.claims(
                namespace, sa, audience=list(audience), duration_s=3600, now=datetime.now(UTC)
            )
            for key, value in {**claims, **(extra or {})}.items():
                if value is None:
                    body.pop(key, None)
                else:
                    body[key] = value
            return str(issuer.sign(body))

        return self.on_issuer(make, cluster)


def create_cluster(ep: RunningEndpoint, name: str) -> str:
    eks = ep.boto3_client("eks")
    cluster = eks.create_cluster(
        name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/cluster", resourcesVpcConfig={}
    )
    return str(cluster["cluster"]["identity"]["oidc"]["issuer"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrsaWorld]:
    with running_endpoint(tmp_path_factory.mktemp("irsa"), ephemeral=False) as ep:
        iam = ep.boto3_client("iam")
        iam.create_role(
            RoleName="cluster",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "eks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        issuer = create_cluster(ep, "demo")
        create_cluster(ep, "other")
        arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])[
            "OpenIDConnectProviderArn"
        ]
        world = IrsaWorld(ep, "demo", issuer, arn)
        iam.create_role(RoleName="s3-reader", AssumeRolePolicyDocument=irsa_trust(arn, world.hostpath))
        iam.attach_role_policy(
            RoleName="s3-reader", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        )
        yield world
