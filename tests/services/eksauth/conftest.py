"""A whole Pod Identity stack in process: IAM, STS, the authorizer, EKS, EKS Auth (no HTTP)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from podid.clock import FakeClock
from podid.services.base import AuthzCheck, Call, Principal
from podid.services.eks import Cluster, EksDomain
from podid.services.eksauth import EksAuthDomain, EksAuthProvider
from podid.services.iam.authorizer import Authorizer
from podid.services.iam.domain import IamDomain
from podid.services.sts.domain import StsDomain, session_principal
from podid.store import Store

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "999988887777"
REGION = "us-west-2"
BASE_URL = "http://127.0.0.1:4566"

POD_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


def policy(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Stack:
    clock: FakeClock
    store: Store
    iam: IamDomain
    sts: StsDomain
    authorizer: Authorizer
    eks: EksDomain
    auth: EksAuthDomain
    provider: EksAuthProvider
    cluster: Cluster
    audit: list[Mapping[str, Any]] = field(default_factory=list)
    node: Principal | None = None

    def role(self, name: str, trust: str = POD_TRUST, *, account: str = ACCOUNT, **perms: str) -> str:
        role = self.iam.create_role(account, name, trust)
        for pname, doc in perms.items():
            self.iam.put_role_policy(account, name, pname, doc)
        return role.arn

    def call(self, principal: Principal | None = None) -> Call:
        return Call(
            request_id="req-1",
            service="eks-auth",
            operation="AssumeRoleForPodIdentity",
            region=REGION,
            principal=principal or self.node_principal(),
            now=self.clock.now(),
        )

    def node_principal(self) -> Principal:
        if self.node is None:
            arn = self.role(
                "node-role",
                policy(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ),
                worker=policy(
                    {"Effect": "Allow", "Action": "eks-auth:AssumeRoleForPodIdentity", "Resource": "*"}
                ),
            )
            ec2 = Principal(
                kind="service", arn="ec2.amazonaws.com", account=ACCOUNT, user_id="ec2", name="ec2"
            )
            from podid.services.sts.domain import AssumeRoleRequest

            creds = self.sts.assume_role(
                ec2, AssumeRoleRequest(arn, "i-0123456789abcdef0"), self.authorizer.authorize
            )
            self.node = creds.principal
        return self.node

    def token(self, namespace: str, sa: str, pod: str | None = "app1", **kw: Any) -> str:
        return self.eks.issuer_for(self.cluster).issue(
            namespace,
            sa,
            audience=["pods.eks.amazonaws.com"],
            duration_s=86400,
            pod_name=pod,
            pod_uid="0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012" if pod else None,
            now=self.clock.now(),
            **kw,
        )

    def principal_of(self, session_token: str) -> Principal:
        return session_principal(self.sts.decode_token(session_token))

    def allowed(self, principal: Principal, action: str, resource: str, **context: str) -> bool:
        call = Call(
            request_id="r",
            service="s3",
            operation="x",
            region=REGION,
            principal=principal,
            now=self.clock.now(),
        )
        try:
            self.authorizer.authorize(call, [AuthzCheck(action, resource, context)])
        except Exception:
            return False
        return True


def build_stack(cluster_name: str = "eksworkshop-eksctl") -> Stack:
    clock = FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    store = Store()
    iam = IamDomain(store, clock)
    sts = StsDomain(iam, clock, os.urandom(32))
    authorizer = Authorizer(iam)
    eks = EksDomain(store, clock, iam, lambda: BASE_URL)
    audit: list[Mapping[str, Any]] = []
    auth = EksAuthDomain(eks, sts, authorizer.authorize, audit=audit.append)
    cluster_role = iam.create_role(ACCOUNT, "cluster-role", POD_TRUST).arn
    cluster = eks.create_cluster(ACCOUNT, REGION, cluster_name, role_arn=cluster_role, version="1.28")
    return Stack(clock, store, iam, sts, authorizer, eks, auth, EksAuthProvider(auth), cluster, audit)


@pytest.fixture
def stack() -> Stack:
    return build_stack()
