"""What the local cluster runtime needs from the rest of podid, as small typed interfaces.

The runtime reads clusters, node groups, add-ons and associations from the EKS domain, gets node
credentials from STS as EC2 would, asks the webhook to review pods, and (as root) puts nodes in
network namespaces. Each need is a Protocol here so that the runtime can be tested with small fakes
and so that the adapters to the real domains (`podid.kube.adapters`) stay in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ClusterInfo:
    account: str
    region: str
    name: str
    created_at: datetime
    version: str = "1.31"
    arn: str = ""

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.name}"


@dataclass(frozen=True)
class NodeGroupInfo:
    name: str
    node_role_arn: str
    desired_size: int
    labels: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = "t3.medium"


@dataclass(frozen=True)
class NodeCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


class ClusterSource(Protocol):
    """The control plane as the runtime sees it (backed by the in-process EKS domain)."""

    def clusters(self) -> list[ClusterInfo]: ...

    def node_groups(self, cluster: ClusterInfo) -> list[NodeGroupInfo]: ...

    def addons(self, cluster: ClusterInfo) -> set[str]: ...

    def has_association(self, cluster: ClusterInfo, namespace: str, service_account: str) -> bool: ...

    def issue_token(
        self,
        cluster: ClusterInfo,
        namespace: str,
        service_account: str,
        *,
        audience: list[str],
        duration_s: int,
        pod_name: str | None,
        pod_uid: str | None,
        sa_uid: str | None,
        now: datetime,
    ) -> str: ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after any change of clusters, node groups, add-ons or associations."""
        ...


class NodeCredentialSource(Protocol):
    """Node role credentials obtained as EC2 obtains them (AssumeRole by ec2.amazonaws.com)."""

    def __call__(self, account: str, role_arn: str, session_name: str) -> NodeCredentials: ...


class NodeNet(Protocol):
    """One node's network namespace (podid.kube.netns.NodeNetwork)."""

    name: str
    host_address: str
    node_address: str

    def create(self) -> None: ...

    def destroy(self) -> None: ...

    def exec_prefix(self) -> list[str]: ...


NetworkFactory = Callable[[str, str], NodeNet]  # (cluster key, node id) -> its (not yet created) network
Admit = Callable[
    [ClusterInfo, dict[str, Any]], dict[str, Any]
]  # (cluster, AdmissionReview) -> response review
