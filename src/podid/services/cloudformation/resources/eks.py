"""AWS::EKS::Cluster, Nodegroup and Addon over `EksDomain` (PodIdentityAssociation: eks_association).

Properties are the resource schemas' (PascalCase); they reach the EKS domain in the API's camelCase
form, recorded as given. Authorization is the EKS API's: `eks:Create*` on the cluster ARN with the
request tags, `iam:PassRole` on every role handed to EKS (`iam:PassedToService` eks.amazonaws.com
for the cluster and node roles, pods.eks.amazonaws.com for association roles), `eks:Delete*` /
`eks:Update*` on the object's ARN.

Update behaviour from the schemas: Cluster Name, RoleArn, EncryptionConfig,
KubernetesNetworkConfig, ResourcesVpcConfig's SubnetIds/SecurityGroupIds replace it; Nodegroup
ClusterName, NodegroupName, NodeRole, Subnets, InstanceTypes, AmiType, CapacityType, DiskSize,
RemoteAccess replace it; Addon AddonName/ClusterName replace it. Tags update in place everywhere.
The in-place updates EKS would do asynchronously that podid's EKS does not model (a cluster's
version or logging, a node group's scaling) fail the resource with a message that says so.

Ref: the cluster name, `cluster/nodegroup`, `cluster/addon`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podid.errors import AwsError
from podid.services.base import AuthzCheck
from podid.services.cloudformation.resources.base import (
    PropertyError,
    Provisioned,
    ResourceContext,
    ResourceHandler,
    as_bool,
    string_list,
    tag_map,
)
from podid.services.eks import Cluster, EksDomain

EKS_SERVICE = "eks.amazonaws.com"
PODS_SERVICE = "pods.eks.amazonaws.com"
_MAPS = frozenset({"Labels", "Tags"})  # map-valued properties: their keys are data, not members


def camel(value: Any) -> Any:
    """A schema value in the EKS API's member casing (`SubnetIds` -> `subnetIds`)."""
    if isinstance(value, dict):
        return {
            (k[:1].lower() + k[1:]): (dict(v) if k in _MAPS and isinstance(v, dict) else camel(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def api_members(props: Mapping[str, Any], skip: set[str]) -> dict[str, Any]:
    """Properties (but `skip`) as the API's members: `{"Labels": {...}}` -> `{"labels": {...}}`."""
    return camel({k: v for k, v in props.items() if k not in skip})  # type: ignore[no-any-return]


_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def cluster_config(props: Mapping[str, Any], handled: set[str]) -> dict[str, Any]:
    """The other Cluster properties in the CreateCluster API's shapes (Logging differs: the
    schema's `ClusterLogging.EnabledTypes[].Type` is the API's `clusterLogging[].types`)."""
    config = api_members(props, handled | {"Logging"})
    logging = props.get("Logging")
    if isinstance(logging, dict):
        cluster_logging = logging.get("ClusterLogging") or {}
        enabled = [
            str(item.get("Type"))
            for item in (cluster_logging.get("EnabledTypes") or [])
            if isinstance(item, dict) and item.get("Type")
        ]
        groups = [{"types": enabled, "enabled": True}] if enabled else []
        disabled = [t for t in _LOG_TYPES if t not in enabled]
        if disabled:
            groups.append({"types": disabled, "enabled": False})
        config["logging"] = {"clusterLogging": groups}
    return config


def _arn(ctx: ResourceContext, rest: str) -> str:
    return f"arn:aws:eks:{ctx.region}:{ctx.account}:{rest}"


def eks_tag_context(tags: Mapping[str, str]) -> dict[str, str | list[str]]:
    ctx: dict[str, str | list[str]] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        ctx["aws:TagKeys"] = list(tags)
    return ctx


def pass_role(role_arn: str, service: str) -> AuthzCheck:
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 4 and parts[4] else None
    return AuthzCheck(
        "iam:PassRole", role_arn, context={"iam:PassedToService": service}, resource_account=account
    )


def is_not_found(err: AwsError) -> bool:
    return err.code == "ResourceNotFoundException"


class EksHandler(ResourceHandler):
    def __init__(self, domain: EksDomain) -> None:
        self.domain = domain

    def cluster(self, ctx: ResourceContext, name: str) -> Cluster:
        return self.domain.get_cluster(ctx.account, ctx.region, name)

    def _tags_only(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        return all(old.get(k) == new.get(k) for k in set(old) | set(new) if k != "Tags")

    def _tag_checks(
        self, ctx: ResourceContext, arn: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> dict[str, str]:
        before, after = tag_map(old), tag_map(new)
        gone = [k for k in before if k not in after]
        if gone:
            ctx.authorize(AuthzCheck("eks:UntagResource", arn, {"aws:TagKeys": gone}))
        if after and after != before:
            ctx.authorize(AuthzCheck("eks:TagResource", arn, eks_tag_context(after)))
        return after


class ClusterHandler(EksHandler):
    type_name = "AWS::EKS::Cluster"
    properties = frozenset(
        {
            "AccessConfig",
            "BootstrapSelfManagedAddons",
            "ComputeConfig",
            "DeletionProtection",
            "EncryptionConfig",
            "Force",
            "KubernetesNetworkConfig",
            "Logging",
            "Name",
            "OutpostConfig",
            "RemoteNetworkConfig",
            "ResourcesVpcConfig",
            "RoleArn",
            "StorageConfig",
            "Tags",
            "UpgradePolicy",
            "Version",
            "ZonalShiftConfig",
        }
    )
    required = ("ResourcesVpcConfig", "RoleArn")
    objects = frozenset(
        {
            "AccessConfig",
            "ComputeConfig",
            "KubernetesNetworkConfig",
            "Logging",
            "OutpostConfig",
            "RemoteNetworkConfig",
            "ResourcesVpcConfig",
            "StorageConfig",
            "UpgradePolicy",
            "ZonalShiftConfig",
        }
    )
    lists = frozenset({"Tags", "EncryptionConfig"})
    replace_on = frozenset(
        {
            "Name",
            "RoleArn",
            "EncryptionConfig",
            "KubernetesNetworkConfig",
            "OutpostConfig",
            "BootstrapSelfManagedAddons",
        }
    )
    attributes = frozenset(
        {
            "Arn",
            "CertificateAuthorityData",
            "ClusterSecurityGroupId",
            "EncryptionConfigKeyArn",
            "Endpoint",
            "Id",
            "KubernetesNetworkConfig.ServiceIpv4Cidr",
            "KubernetesNetworkConfig.ServiceIpv6Cidr",
            "OpenIdConnectIssuerUrl",
        }
    )

    def needs_replacement(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        changed = super().needs_replacement(old, new)
        before, after = old.get("ResourcesVpcConfig") or {}, new.get("ResourcesVpcConfig") or {}
        for member in ("SubnetIds", "SecurityGroupIds"):
            if before.get(member) != after.get(member):
                changed.append(f"ResourcesVpcConfig.{member}")
        return changed

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        name = str(props.get("Name") or ctx.generated_name(100, with_stack=False))
        tags = tag_map(props)
        role_arn = str(props["RoleArn"])
        ctx.authorize(
            AuthzCheck("eks:CreateCluster", _arn(ctx, f"cluster/{name}"), eks_tag_context(tags)),
            pass_role(role_arn, EKS_SERVICE),
        )
        handled = {"Name", "RoleArn", "Version", "ResourcesVpcConfig", "Tags", "Force"}
        cluster = self.domain.create_cluster(
            ctx.account,
            ctx.region,
            name,
            role_arn=role_arn,
            version=str(props["Version"]) if props.get("Version") is not None else None,
            resources_vpc_config=camel(props.get("ResourcesVpcConfig") or {}),
            tags=tags,
            config=cluster_config(props, handled),
        )
        return Provisioned(name, self._attributes(cluster))

    def _attributes(self, cluster: Cluster) -> dict[str, Any]:
        from podid.services.eks.certs import ca_data

        network = cluster.config.get("kubernetesNetworkConfig") or {}
        vpc = cluster.config.get("resourcesVpcConfig") or {}
        return {
            "Arn": cluster.arn,
            "Endpoint": cluster.endpoint,
            "CertificateAuthorityData": ca_data(cluster.ca_cert_pem),
            "ClusterSecurityGroupId": vpc.get("clusterSecurityGroupId", ""),
            "EncryptionConfigKeyArn": "",
            "Id": cluster.cluster_id,
            "KubernetesNetworkConfig.ServiceIpv4Cidr": network.get("serviceIpv4Cidr", "10.100.0.0/16"),
            "KubernetesNetworkConfig.ServiceIpv6Cidr": network.get("serviceIpv6Cidr", ""),
            "OpenIdConnectIssuerUrl": self.domain.issuer_url(cluster),
        }

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        if not self._tags_only(old, new):
            return super().update(ctx, current, old, new)
        cluster = self.cluster(ctx, current.physical_id)
        tags = self._tag_checks(ctx, cluster.arn, old, new)
        self.domain.set_cluster_tags(cluster, tags)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        ctx.authorize(AuthzCheck("eks:DeleteCluster", _arn(ctx, f"cluster/{current.physical_id}")))
        try:
            self.domain.delete_cluster(ctx.account, ctx.region, current.physical_id)
        except AwsError as err:
            if not is_not_found(err):
                raise


class NodegroupHandler(EksHandler):
    type_name = "AWS::EKS::Nodegroup"
    properties = frozenset(
        {
            "AmiType",
            "CapacityType",
            "ClusterName",
            "DiskSize",
            "ForceUpdateEnabled",
            "InstanceTypes",
            "Labels",
            "LaunchTemplate",
            "NodeRole",
            "NodegroupName",
            "NodeRepairConfig",
            "ReleaseVersion",
            "RemoteAccess",
            "ScalingConfig",
            "Subnets",
            "Tags",
            "Taints",
            "UpdateConfig",
            "Version",
        }
    )
    required = ("ClusterName", "NodeRole", "Subnets")
    objects = frozenset(
        {
            "Labels",
            "LaunchTemplate",
            "NodeRepairConfig",
            "RemoteAccess",
            "ScalingConfig",
            "Tags",
            "UpdateConfig",
        }
    )
    lists = frozenset({"InstanceTypes", "Subnets", "Taints"})
    replace_on = frozenset(
        {
            "ClusterName",
            "NodegroupName",
            "NodeRole",
            "Subnets",
            "InstanceTypes",
            "AmiType",
            "CapacityType",
            "DiskSize",
            "RemoteAccess",
        }
    )
    attributes = frozenset({"Arn", "ClusterName", "NodegroupName", "Id"})

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        cluster = self.cluster(ctx, str(props["ClusterName"]))
        name = str(props.get("NodegroupName") or ctx.generated_name(63, with_stack=False))
        tags = tag_map(props)
        role_arn = str(props["NodeRole"])
        ctx.authorize(
            AuthzCheck("eks:CreateNodegroup", cluster.arn, eks_tag_context(tags)),
            pass_role(role_arn, EKS_SERVICE),
        )
        handled = {"ClusterName", "NodegroupName", "NodeRole", "Subnets", "Tags", "ForceUpdateEnabled"}
        group = self.domain.create_nodegroup(
            cluster,
            name,
            node_role=role_arn,
            subnets=string_list(props.get("Subnets"), "Subnets"),
            tags=tags,
            config=api_members(props, handled),
        )
        physical = f"{cluster.name}/{name}"
        return Provisioned(
            physical, {"Arn": group.arn, "ClusterName": cluster.name, "NodegroupName": name, "Id": physical}
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        if not self._tags_only(old, new):
            return super().update(ctx, current, old, new)
        cluster_name, _, name = current.physical_id.partition("/")
        group = self.domain.get_nodegroup(self.cluster(ctx, cluster_name), name)
        self.domain.set_nodegroup_tags(group, self._tag_checks(ctx, group.arn, old, new))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        cluster_name, _, name = current.physical_id.partition("/")
        ctx.authorize(AuthzCheck("eks:DeleteNodegroup", _arn(ctx, f"nodegroup/{cluster_name}/{name}/*")))
        try:
            self.domain.delete_nodegroup(self.cluster(ctx, cluster_name), name)
        except AwsError as err:
            if not is_not_found(err):
                raise


class AddonHandler(EksHandler):
    type_name = "AWS::EKS::Addon"
    properties = frozenset(
        {
            "AddonName",
            "AddonVersion",
            "ClusterName",
            "ConfigurationValues",
            "NamespaceConfig",
            "PodIdentityAssociations",
            "PreserveOnDelete",
            "ResolveConflicts",
            "ServiceAccountRoleArn",
            "Tags",
        }
    )
    required = ("AddonName", "ClusterName")
    objects = frozenset({"NamespaceConfig"})
    lists = frozenset({"PodIdentityAssociations", "Tags"})
    replace_on = frozenset({"AddonName", "ClusterName", "NamespaceConfig"})
    attributes = frozenset({"Arn"})

    def _pairs(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for item in props.get("PodIdentityAssociations") or ():
            if not isinstance(item, dict) or "ServiceAccount" not in item or "RoleArn" not in item:
                raise PropertyError(
                    "#/PodIdentityAssociations: required key [ServiceAccount, RoleArn] not found"
                )
            pairs.append((str(item["ServiceAccount"]), str(item["RoleArn"])))
        return pairs

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        cluster = self.cluster(ctx, str(props["ClusterName"]))
        name = str(props["AddonName"])
        tags = tag_map(props)
        pairs = self._pairs(props)
        ctx.authorize(
            AuthzCheck("eks:CreateAddon", cluster.arn, eks_tag_context(tags)),
            *(pass_role(role, PODS_SERVICE) for _, role in pairs),
        )
        namespace = (props.get("NamespaceConfig") or {}).get("Namespace")
        addon = self.domain.create_addon(
            cluster,
            name,
            version=props.get("AddonVersion"),
            service_account_role_arn=props.get("ServiceAccountRoleArn"),
            configuration_values=props.get("ConfigurationValues"),
            pod_identity_associations=pairs,
            tags=tags,
            namespace=namespace,
        )
        return Provisioned(f"{cluster.name}/{name}", {"Arn": addon.arn})

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        ignorable = {"Tags", "ResolveConflicts", "PreserveOnDelete"}
        if any(old.get(k) != new.get(k) for k in set(old) | set(new) if k not in ignorable):
            return super().update(ctx, current, old, new)
        cluster_name, _, name = current.physical_id.partition("/")
        addon = self.domain.get_addon(self.cluster(ctx, cluster_name), name)
        self.domain.set_addon_tags(addon, self._tag_checks(ctx, addon.arn, old, new))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        cluster_name, _, name = current.physical_id.partition("/")
        ctx.authorize(AuthzCheck("eks:DeleteAddon", _arn(ctx, f"addon/{cluster_name}/{name}/*")))
        try:
            cluster = self.cluster(ctx, cluster_name)
            self.domain.delete_addon(cluster, name, preserve=as_bool(props.get("PreserveOnDelete")))
        except AwsError as err:
            if not is_not_found(err):
                raise
