"""Domain objects -> EKS output shapes (dicts; timestamps as datetime for the rest-json serializer)."""

from __future__ import annotations

from typing import Any

from podid.services.eks.certs import ca_data
from podid.services.eks.model import Addon, Cluster, Nodegroup

_DEFAULT_LOGGING = {
    "clusterLogging": [
        {"types": ["api", "audit", "authenticator", "controllerManager", "scheduler"], "enabled": False}
    ]
}
# CreateCluster members echoed back as given when present (their response shapes match the request).
_ECHOED = (
    "encryptionConfig",
    "outpostConfig",
    "zonalShiftConfig",
    "remoteNetworkConfig",
    "computeConfig",
    "storageConfig",
    "controlPlaneScalingConfig",
    "kubeApiServerConfig",
    "kubeSchedulerConfig",
    "kubeControllerManagerConfig",
)


def cluster_to_api(cluster: Cluster, issuer_url: str, status: str | None = None) -> dict[str, Any]:
    cfg = cluster.config
    network = dict(cfg.get("kubernetesNetworkConfig") or {})
    access = dict(cfg.get("accessConfig") or {})
    out: dict[str, Any] = {
        "name": cluster.name,
        "arn": cluster.arn,
        "createdAt": cluster.created_at,
        "version": cluster.version,
        "endpoint": cluster.endpoint,
        "roleArn": cluster.role_arn,
        "resourcesVpcConfig": cfg.get("resourcesVpcConfig", {}),
        "kubernetesNetworkConfig": {
            "serviceIpv4Cidr": network.get("serviceIpv4Cidr", "10.100.0.0/16"),
            "ipFamily": network.get("ipFamily", "ipv4"),
            "elasticLoadBalancing": network.get("elasticLoadBalancing", {"enabled": False}),
        },
        "logging": cfg.get("logging") or _DEFAULT_LOGGING,
        "identity": {"oidc": {"issuer": issuer_url}},
        "status": status or cluster.status,
        "certificateAuthority": {"data": ca_data(cluster.ca_cert_pem)},
        "platformVersion": cluster.platform_version,
        "tags": dict(cluster.tags),
        "health": {"issues": []},
        "accessConfig": {
            "bootstrapClusterCreatorAdminPermissions": access.get(
                "bootstrapClusterCreatorAdminPermissions", True
            ),
            "authenticationMode": access.get("authenticationMode", "API_AND_CONFIG_MAP"),
        },
        "upgradePolicy": cfg.get("upgradePolicy") or {"supportType": "EXTENDED"},
        "deletionProtection": bool(cfg.get("deletionProtection", False)),
    }
    if cluster.client_request_token:
        out["clientRequestToken"] = cluster.client_request_token
    for member in _ECHOED:
        if member in cfg:
            out[member] = cfg[member]
    return out


def nodegroup_to_api(group: Nodegroup, status: str | None = None) -> dict[str, Any]:
    cfg = group.config
    out: dict[str, Any] = {
        "nodegroupName": group.name,
        "nodegroupArn": group.arn,
        "clusterName": group.cluster,
        "version": group.version,
        "releaseVersion": cfg.get("releaseVersion") or f"{group.version}.0-20260101",
        "createdAt": group.created_at,
        "modifiedAt": group.modified_at,
        "status": status or group.status,
        "capacityType": cfg.get("capacityType") or "ON_DEMAND",
        "scalingConfig": cfg["scalingConfig"],
        "instanceTypes": cfg.get("instanceTypes") or ["t3.medium"],
        "subnets": cfg.get("subnets", []),
        "amiType": cfg.get("amiType") or "AL2023_x86_64_STANDARD",
        "nodeRole": group.node_role,
        "labels": cfg.get("labels") or {},
        "resources": {"autoScalingGroups": [{"name": f"eks-{group.name}-{group.uid}"}]},
        "diskSize": cfg.get("diskSize") or 20,
        "health": {"issues": []},
        "updateConfig": cfg.get("updateConfig") or {"maxUnavailable": 1},
        "tags": dict(group.tags),
    }
    for member in ("remoteAccess", "taints", "launchTemplate", "nodeRepairConfig", "warmPoolConfig"):
        if cfg.get(member):
            out[member] = cfg[member]
    return out


def addon_to_api(addon: Addon, status: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "addonName": addon.name,
        "clusterName": addon.cluster,
        "status": status or addon.status,
        "addonVersion": addon.version,
        "health": {"issues": []},
        "addonArn": addon.arn,
        "createdAt": addon.created_at,
        "modifiedAt": addon.modified_at,
        "tags": dict(addon.tags),
        "podIdentityAssociations": list(addon.association_arns),
    }
    if addon.service_account_role_arn:
        out["serviceAccountRoleArn"] = addon.service_account_role_arn
    if addon.configuration_values:
        out["configurationValues"] = addon.configuration_values
    if addon.namespace:
        out["namespaceConfig"] = {"namespace": addon.namespace}
    return out
