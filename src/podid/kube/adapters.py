"""The runtime's view of the in-process EKS and STS domains (the real implementations of `ports`).

`EksClusterSource` reads clusters, node groups (`scalingConfig.desiredSize`, `labels`), add-ons and
associations from `podid.services.eks.EksDomain` (read-your-writes, in process) and issues tokens
with the cluster's own issuer; it relays the domain's change events. `StsNodeCredentials` obtains a
node's credentials as EC2 does for an instance profile: `AssumeRole` of the node role by the service
principal `ec2.amazonaws.com` under the role's trust policy, session name = the instance id, for
6 hours (EC2's instance credentials are 6-hour sessions; STS allows a service principal beyond the
role's MaxSessionDuration).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from podid.kube.ports import ClusterInfo, NodeCredentials, NodeGroupInfo
from podid.services.base import AuthzCheck, Call, Principal

if TYPE_CHECKING:
    from podid.services.eks import EksDomain
    from podid.services.sts import StsDomain

NODE_SESSION_SECONDS = 21600
Authorize = Callable[[Call, Sequence[AuthzCheck]], None]


class EksClusterSource:
    def __init__(self, eks: EksDomain) -> None:
        self.eks = eks

    def _cluster(self, info: ClusterInfo) -> Any:
        return self.eks.cluster_by_name(info.account, info.region, info.name)

    def clusters(self) -> list[ClusterInfo]:
        out = []
        for c in self.eks.all_clusters():
            if c.status in ("DELETING", "FAILED"):
                continue
            out.append(
                ClusterInfo(
                    account=c.account,
                    region=c.region,
                    name=c.name,
                    created_at=c.created_at,
                    version=c.version,
                    arn=f"arn:aws:eks:{c.region}:{c.account}:cluster/{c.name}",
                )
            )
        return out

    def node_groups(self, cluster: ClusterInfo) -> list[NodeGroupInfo]:
        found = self._cluster(cluster)
        if found is None:
            return []
        out = []
        for name in self.eks.list_nodegroups(found):
            group = self.eks.nodegroup_by_name(found, name)
            if group is None or group.status in ("DELETING", "CREATE_FAILED"):
                continue
            scaling = group.config.get("scalingConfig") or {}
            out.append(
                NodeGroupInfo(
                    name=group.name,
                    node_role_arn=group.node_role,
                    desired_size=int(scaling.get("desiredSize", 2)),
                    labels=dict(group.config.get("labels") or {}),
                    instance_type=str((group.config.get("instanceTypes") or ["t3.medium"])[0]),
                )
            )
        return out

    def addons(self, cluster: ClusterInfo) -> set[str]:
        found = self._cluster(cluster)
        return set(self.eks.list_addons(found)) if found is not None else set()

    def has_association(self, cluster: ClusterInfo, namespace: str, service_account: str) -> bool:
        return (
            self.eks.find_association(
                cluster.account, cluster.region, cluster.name, namespace, service_account
            )
            is not None
        )

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
    ) -> str:
        found = self._cluster(cluster)
        if found is None:
            raise LookupError(f"cluster {cluster.name} no longer exists")
        return self.eks.issuer_for(found).issue(
            namespace,
            service_account,
            audience=audience,
            duration_s=duration_s,
            pod_name=pod_name,
            pod_uid=pod_uid,
            sa_uid=sa_uid,
            now=now,
        )

    def subscribe(self, callback: Callable[[], None]) -> None:
        self.eks.add_listener(lambda event: callback())


class StsNodeCredentials:
    def __init__(self, sts: StsDomain, authorize: Authorize) -> None:
        self.sts = sts
        self.authorize = authorize

    def __call__(self, account: str, role_arn: str, session_name: str) -> NodeCredentials:
        from podid.services.sts import AssumeRoleRequest

        caller = Principal(
            kind="service",
            arn="ec2.amazonaws.com",
            account=account,
            user_id="ec2.amazonaws.com",
            name="ec2.amazonaws.com",
        )
        assumed = self.sts.assume_role(
            caller,
            AssumeRoleRequest(
                role_arn=role_arn, session_name=session_name, duration_seconds=NODE_SESSION_SECONDS
            ),
            self.authorize,
        )
        return NodeCredentials(
            assumed.access_key_id, assumed.secret_access_key, assumed.session_token, assumed.expiration
        )
