"""Static EKS facts: the Kubernetes versions accepted and the add-on version catalogue.

Kubernetes versions: 1.23 through 1.35 (botocore's model names no version list; 1.23 is the oldest
the walkthrough's era of tools still creates, 1.35 the newest EKS release we know of). The default
(CreateCluster without `version`) is 1.34, EKS's default at the time of writing.

Add-ons: the four the walkthrough and eksctl use, with versions shaped like EKS's (`v1.3.4-eksbuild.1`)
and per-Kubernetes-version compatibility; the newest compatible one is the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUPPORTED_VERSIONS: tuple[str, ...] = tuple(f"1.{minor}" for minor in range(23, 36))
DEFAULT_VERSION = "1.34"
PLATFORM_VERSION = "eks.1"


@dataclass(frozen=True)
class AddonVersion:
    version: str
    k8s_versions: tuple[str, ...]


@dataclass(frozen=True)
class AddonSpec:
    name: str
    type: str
    namespace: str
    service_account: str | None
    versions: tuple[AddonVersion, ...]  # newest first


def _range(lo: int, hi: int) -> tuple[str, ...]:
    return tuple(f"1.{m}" for m in range(lo, hi + 1))


ADDONS: dict[str, AddonSpec] = {
    "eks-pod-identity-agent": AddonSpec(
        "eks-pod-identity-agent",
        "security",
        "kube-system",
        None,
        (
            AddonVersion("v1.3.8-eksbuild.2", _range(24, 35)),
            AddonVersion("v1.3.4-eksbuild.1", _range(24, 33)),
            AddonVersion("v1.0.0-eksbuild.1", _range(24, 28)),
        ),
    ),
    "vpc-cni": AddonSpec(
        "vpc-cni",
        "networking",
        "kube-system",
        "aws-node",
        (
            AddonVersion("v1.20.4-eksbuild.1", _range(25, 35)),
            AddonVersion("v1.18.3-eksbuild.1", _range(23, 31)),
        ),
    ),
    "coredns": AddonSpec(
        "coredns",
        "networking",
        "kube-system",
        None,
        (
            AddonVersion("v1.12.4-eksbuild.1", _range(33, 35)),
            AddonVersion("v1.11.4-eksbuild.2", _range(29, 32)),
            AddonVersion("v1.10.1-eksbuild.13", _range(25, 28)),
            AddonVersion("v1.9.3-eksbuild.19", _range(23, 24)),
        ),
    ),
    "kube-proxy": AddonSpec(
        "kube-proxy",
        "networking",
        "kube-system",
        None,
        tuple(AddonVersion(f"v1.{m}.0-eksbuild.1", (f"1.{m}",)) for m in range(35, 22, -1)),
    ),
}


def default_addon_version(name: str, k8s_version: str) -> str | None:
    spec = ADDONS.get(name)
    if spec is None:
        return None
    for v in spec.versions:
        if k8s_version in v.k8s_versions:
            return v.version
    return None


def addon_version_supported(name: str, version: str, k8s_version: str) -> bool:
    spec = ADDONS.get(name)
    return spec is not None and any(
        v.version == version and k8s_version in v.k8s_versions for v in spec.versions
    )


def addon_info(spec: AddonSpec, k8s_version: str | None) -> dict[str, Any]:
    """One `AddonInfo` of DescribeAddonVersions (filtered to `k8s_version` when given)."""
    versions = []
    for v in spec.versions:
        if k8s_version is not None and k8s_version not in v.k8s_versions:
            continue
        default_for = {kv for kv in v.k8s_versions if default_addon_version(spec.name, kv) == v.version}
        versions.append(
            {
                "addonVersion": v.version,
                "architecture": ["amd64", "arm64"],
                "computeTypes": ["ec2"],
                "compatibilities": [
                    {"clusterVersion": kv, "platformVersions": ["*"], "defaultVersion": kv in default_for}
                    for kv in v.k8s_versions
                    if k8s_version is None or kv == k8s_version
                ],
                "requiresConfiguration": False,
                "requiresIamPermissions": spec.service_account is not None,
            }
        )
    return {
        "addonName": spec.name,
        "type": spec.type,
        "addonVersions": versions,
        "publisher": "eks",
        "owner": "aws",
        "defaultNamespace": spec.namespace,
    }
