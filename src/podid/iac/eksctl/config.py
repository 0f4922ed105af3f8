"""A checked `ClusterConfig` as typed values, with eksctl's defaults and semantic checks.

`load_config(path)` reads a file, decodes it strictly (`podid.iac.eksctl.schema`) and returns a
`ClusterConfig`. Defaults are eksctl's: a managed node group without sizes gets 2 nodes
(min = desired = max = 2), with only `desiredCapacity` it gets min = max = desired, the instance
type defaults to `m5.large`, the volume to 80 GiB. Errors carry eksctl's wording where it has one
and always the path of the field.

Choice: `nodeGroups` (self-managed groups, Auto Scaling groups in AWS) become EKS node groups
locally too, since podid's runtime makes nodes from node groups; they are listed by
`aws eks list-nodegroups`, which real self-managed groups are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podid.iac.eksctl.schema import ConfigError, decode

DEFAULT_INSTANCE_TYPE = "m5.large"
DEFAULT_VOLUME_SIZE = 80
NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,99}$")


@dataclass(frozen=True)
class PodIdentity:
    """One `podIdentityAssociations` entry (cluster-level or on an add-on)."""

    namespace: str
    service_account: str
    role_arn: str = ""
    role_name: str = ""
    permission_policy_arns: tuple[str, ...] = ()
    permission_policy: dict[str, Any] | None = None
    well_known_policies: tuple[str, ...] = ()
    permissions_boundary_arn: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    create_service_account: bool = False
    target_role_arn: str = ""
    disable_session_tags: bool = False
    path: str = ""

    @property
    def needs_role(self) -> bool:
        return not self.role_arn


@dataclass(frozen=True)
class Addon:
    name: str
    version: str = ""
    service_account_role_arn: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    resolve_conflicts: str = ""
    configuration_values: str = ""
    namespace: str = ""
    pod_identities: tuple[PodIdentity, ...] = ()


@dataclass(frozen=True)
class NodeGroup:
    name: str
    managed: bool
    instance_types: tuple[str, ...]
    min_size: int
    desired: int
    max_size: int
    volume_size: int
    labels: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()
    instance_role_arn: str = ""
    instance_role_name: str = ""
    instance_role_boundary: str = ""
    attach_policy_arns: tuple[str, ...] = ()
    attach_policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    region: str
    version: str
    tags: dict[str, str]
    service_role_arn: str
    service_role_boundary: str
    addons: tuple[Addon, ...]
    node_groups: tuple[NodeGroup, ...]
    pod_identities: tuple[PodIdentity, ...]
    no_effect: tuple[str, ...]
    # IRSA (`podid.iac.irsa.apply_cluster_config_iam`): iam.withOIDC and iam.serviceAccounts as given
    with_oidc: bool = False
    service_accounts: tuple[dict[str, Any], ...] = ()


def load_config(path: str | Path, region: str | None = None) -> ClusterConfig:
    """Read, decode and check a ClusterConfig file; errors say `loading config file "<path>": ...`."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f'reading config file "{source}": {exc.strerror or exc}') from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f'loading config file "{source}": error converting YAML to JSON: {exc}') from None
    try:
        return parse_config(document, region)
    except ConfigError as exc:
        raise ConfigError(f'loading config file "{source}": {_prefix(exc.message)}') from None


def _prefix(message: str) -> str:
    if message.startswith("json:"):
        return "error unmarshaling JSON: while decoding JSON: " + message
    return message


def parse_config(document: object, region: str | None = None) -> ClusterConfig:
    """A ClusterConfig from a parsed document; `region` fills a missing `metadata.region`."""
    decoded = decode(document)
    doc = decoded.document
    meta = doc.get("metadata") or {}
    name = meta.get("name") or ""
    if not name:
        raise ConfigError("metadata.name must be set")
    if not NAME_RE.match(name):
        raise ConfigError(
            f'validation for metadata.name "{name}" failed: it must start with a letter and contain only '
            "letters, digits and hyphens, at most 100 characters"
        )
    cluster_region = meta.get("region") or region or ""
    if not cluster_region:
        raise ConfigError("metadata.region must be set (or pass --region)")
    iam = doc.get("iam") or {}
    addons = tuple(_addon(a, f"addons[{i}]") for i, a in enumerate(doc.get("addons") or []))
    _unique([a.name for a in addons], "addons", "addon")
    groups = [
        _node_group(g, f"managedNodeGroups[{i}]", True)
        for i, g in enumerate(doc.get("managedNodeGroups") or [])
    ]
    groups += [_node_group(g, f"nodeGroups[{i}]", False) for i, g in enumerate(doc.get("nodeGroups") or [])]
    _unique([g.name for g in groups], "managedNodeGroups/nodeGroups", "nodegroup")
    identities = tuple(
        _pod_identity(p, f"iam.podIdentityAssociations[{i}]", None)
        for i, p in enumerate(iam.get("podIdentityAssociations") or [])
    )
    _unique(
        [f"{p.namespace}/{p.service_account}" for p in identities],
        "iam.podIdentityAssociations",
        "pod identity association",
    )
    service_accounts = tuple(iam.get("serviceAccounts") or ())
    if service_accounts and not iam.get("withOIDC"):
        raise ConfigError("iam.withOIDC must be enabled explicitly for iam.serviceAccounts to be created")
    return ClusterConfig(
        name=name,
        region=cluster_region,
        version=str(meta.get("version") or ""),
        tags=dict(meta.get("tags") or {}),
        service_role_arn=iam.get("serviceRoleARN") or "",
        service_role_boundary=iam.get("serviceRolePermissionsBoundary") or "",
        addons=addons,
        node_groups=tuple(groups),
        pod_identities=identities,
        no_effect=tuple(decoded.no_effect),
        with_oidc=bool(iam.get("withOIDC")),
        service_accounts=service_accounts,
    )


def _unique(names: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConfigError(f'{path}: {what} "{n}" is defined more than once')
        seen.add(n)


def _well_known(value: dict[str, Any] | None) -> tuple[str, ...]:
    return tuple(sorted(k for k, v in (value or {}).items() if v))


def _pod_identity(p: dict[str, Any], path: str, addon_namespace: str | None) -> PodIdentity:
    namespace = p.get("namespace") or addon_namespace or ""
    sa = p.get("serviceAccountName") or ""
    if not namespace:
        raise ConfigError(f"{path}.namespace must be set")
    if not sa:
        raise ConfigError(f"{path}.serviceAccountName must be set")
    role_arn = p.get("roleARN") or ""
    policies = tuple(p.get("permissionPolicyARNs") or [])
    inline = p.get("permissionPolicy") or None
    well_known = _well_known(p.get("wellKnownPolicies"))
    if role_arn and (policies or inline or well_known or p.get("roleName")):
        raise ConfigError(
            f"{path}: roleARN cannot be combined with roleName, permissionPolicyARNs, permissionPolicy "
            "or wellKnownPolicies"
        )
    if not role_arn and not (policies or inline or well_known):
        raise ConfigError(
            f"{path}: at least one of the following must be specified: roleARN, permissionPolicy, "
            "permissionPolicyARNs, wellKnownPolicies"
        )
    return PodIdentity(
        namespace=namespace,
        service_account=sa,
        role_arn=role_arn,
        role_name=p.get("roleName") or "",
        permission_policy_arns=policies,
        permission_policy=inline,
        well_known_policies=well_known,
        permissions_boundary_arn=p.get("permissionsBoundaryARN") or "",
        tags=dict(p.get("tags") or {}),
        create_service_account=bool(p.get("createServiceAccount")),
        target_role_arn=p.get("targetRoleARN") or "",
        disable_session_tags=bool(p.get("disableSessionTags")),
        path=path,
    )


def _addon(a: dict[str, Any], path: str) -> Addon:
    name = a.get("name") or ""
    if not name:
        raise ConfigError(f"{path}.name must be set")
    namespace = (a.get("namespaceConfig") or {}).get("namespace") or ""
    identities = tuple(
        _pod_identity(p, f"{path}.podIdentityAssociations[{i}]", namespace or "kube-system")
        for i, p in enumerate(a.get("podIdentityAssociations") or [])
    )
    version = a.get("version") or ""
    return Addon(
        name=name,
        version="" if version in ("latest", "default") else version,
        service_account_role_arn=a.get("serviceAccountRoleARN") or "",
        tags=dict(a.get("tags") or {}),
        resolve_conflicts=(a.get("resolveConflicts") or "").upper(),
        configuration_values=a.get("configurationValues") or "",
        namespace=namespace,
        pod_identities=identities,
    )


def _node_group(g: dict[str, Any], path: str, managed: bool) -> NodeGroup:
    name = g.get("name") or ""
    if not name:
        raise ConfigError(f"{path}.name must be set")
    if not NAME_RE.match(name):
        raise ConfigError(
            f'{path}.name "{name}" is invalid: letters, digits and hyphens, starting with a letter'
        )
    desired = g.get("desiredCapacity")
    low = g.get("minSize")
    high = g.get("maxSize")
    if desired is None:
        desired = low if low is not None else 2
    low = desired if low is None else low
    high = max(desired, low) if high is None else high
    for key, value in (("minSize", low), ("desiredCapacity", desired), ("maxSize", high)):
        if value < 0:
            raise ConfigError(f"{path}.{key} must not be negative (got {value})")
    if low > high:
        raise ConfigError(f"{path}: minSize ({low}) cannot be greater than maxSize ({high})")
    if not low <= desired <= high:
        raise ConfigError(
            f"{path}: desiredCapacity ({desired}) must be between minSize ({low}) and maxSize ({high})"
        )
    if high < 1:
        raise ConfigError(f"{path}.maxSize must be at least 1")
    types = tuple(g.get("instanceTypes") or ())
    if g.get("instanceType") and types:
        raise ConfigError(f"{path}: instanceType and instanceTypes cannot be set at the same time")
    if not types:
        types = (g.get("instanceType") or DEFAULT_INSTANCE_TYPE,)
    node_iam = g.get("iam") or {}
    role_arn = node_iam.get("instanceRoleARN") or ""
    if role_arn and (node_iam.get("attachPolicyARNs") or node_iam.get("instanceRoleName")):
        raise ConfigError(
            f"{path}.iam: instanceRoleARN cannot be combined with attachPolicyARNs or instanceRoleName"
        )
    return NodeGroup(
        name=name,
        managed=managed,
        instance_types=types,
        min_size=low,
        desired=desired,
        max_size=high,
        volume_size=g.get("volumeSize") or DEFAULT_VOLUME_SIZE,
        labels=dict(g.get("labels") or {}),
        tags=dict(g.get("tags") or {}),
        taints=tuple(dict(t) for t in g.get("taints") or []),
        instance_role_arn=role_arn,
        instance_role_name=node_iam.get("instanceRoleName") or "",
        instance_role_boundary=node_iam.get("instanceRolePermissionsBoundary") or "",
        attach_policy_arns=tuple(node_iam.get("attachPolicyARNs") or ()),
        attach_policy=node_iam.get("attachPolicy") or None,
    )
