"""The eksctl `ClusterConfig` schema (`apiVersion: eksctl.io/v1alpha5`): strict decoding with field paths.

eksctl reads a config file by converting YAML to JSON and decoding it strictly into its Go structs,
so an unknown field or a value of the wrong JSON type is an error. podid declares the same fields
(names and JSON types as in eksctl's `pkg/apis/eksctl.io/v1alpha5` types) and decodes the same way,
naming the full path of the offending field, in the words of Go's `encoding/json`:

    json: unknown field "managedNodeGroups[0].instanceTyp"
    json: cannot unmarshal string into Go struct field
          ManagedNodeGroup.managedNodeGroups[0].minSize of type int   (one line)

Every declared field is either acted on (`Field(..., effect=True)`) or accepted and reported once
as "accepted, has no effect locally" (VPC layout, SSH keys, AMIs, ... have no local meaning).
`null` is accepted anywhere (Go leaves the zero value), as in eksctl.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "eksctl.io/v1alpha5"
KIND = "ClusterConfig"


class ConfigError(Exception):
    """A config file eksctl would refuse; `message` is eksctl's text (without the file prefix)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the declarative schema ------------------------------------------------------------------------
@dataclass(frozen=True)
class Obj:
    """A Go struct: its name (for error messages) and its JSON fields."""

    go_name: str
    fields: Mapping[str, Field]


@dataclass(frozen=True)
class Field:
    """One JSON field: `kind` is string|int|bool|float|any|map|list|obj; `item` for list/map/obj."""

    kind: str
    effect: bool = False
    item: Field | Obj | None = None


S = Field("string")
S_ON = Field("string", effect=True)
I_ON = Field("int", effect=True)
B = Field("bool")
B_ON = Field("bool", effect=True)
ANY = Field("any")
STRMAP = Field("map", item=S)
STRMAP_ON = Field("map", effect=True, item=S)
STRLIST = Field("list", item=S)
STRLIST_ON = Field("list", effect=True, item=S)
ANYMAP = Field("map", item=ANY)


def obj(go_name: str, acted: bool = False, /, **fields: Field) -> Field:
    return Field("obj", effect=acted, item=Obj(go_name, fields))


def objlist(go_name: str, acted: bool = False, /, **fields: Field) -> Field:
    return Field("list", effect=acted, item=obj(go_name, acted, **fields))


_WELL_KNOWN_NAMES = (
    "imageBuilder",
    "autoScaler",
    "awsLoadBalancerController",
    "externalDNS",
    "certManager",
    "ebsCSIController",
    "efsCSIController",
)
WELL_KNOWN = obj("WellKnownPolicies", True, **dict.fromkeys(_WELL_KNOWN_NAMES, B_ON))

POD_IDENTITY_FIELDS: dict[str, Field] = {
    "namespace": S_ON,
    "serviceAccountName": S_ON,
    "roleARN": S_ON,
    "roleName": S_ON,
    "permissionPolicyARNs": STRLIST_ON,
    "permissionPolicy": Field("map", effect=True, item=ANY),
    "wellKnownPolicies": WELL_KNOWN,
    "permissionsBoundaryARN": S_ON,
    "tags": STRMAP_ON,
    "createServiceAccount": B_ON,
    "targetRoleARN": S_ON,
    "disableSessionTags": B_ON,
}

NODE_IAM = obj(
    "NodeGroupIAM",
    True,
    instanceRoleARN=S_ON,
    instanceRoleName=S_ON,
    instanceRolePermissionsBoundary=S_ON,
    attachPolicyARNs=STRLIST_ON,
    attachPolicy=Field("map", effect=True, item=ANY),
    instanceProfileARN=S,
    withAddonPolicies=ANYMAP,
)

# the fields shared by managedNodeGroups and nodeGroups (eksctl's NodeGroupBase)
NODE_GROUP_BASE: dict[str, Field] = {
    "name": S_ON,
    "instanceType": S_ON,
    "minSize": I_ON,
    "desiredCapacity": I_ON,
    "maxSize": I_ON,
    "labels": STRMAP_ON,
    "tags": STRMAP_ON,
    "iam": NODE_IAM,
    "volumeSize": I_ON,
    "amiFamily": S,
    "ami": S,
    "availabilityZones": STRLIST,
    "subnets": STRLIST,
    "privateNetworking": B,
    "ssh": ANYMAP,
    "instanceName": S,
    "instancePrefix": S,
    "volumeType": S,
    "volumeName": S,
    "volumeEncrypted": B,
    "volumeKmsKeyID": S,
    "volumeIOPS": Field("int"),
    "volumeThroughput": Field("int"),
    "additionalVolumes": Field("list", item=ANYMAP),
    "preBootstrapCommands": STRLIST,
    "overrideBootstrapCommand": S,
    "propagateASGTags": B,
    "disableIMDSv1": B,
    "disablePodIMDS": B,
    "placement": ANYMAP,
    "efaEnabled": B,
    "securityGroups": ANYMAP,
    "maxPodsPerNode": Field("int"),
    "asgSuspendProcesses": STRLIST,
    "enableDetailedMonitoring": B,
    "capacityReservation": ANYMAP,
    "outpostARN": S,
    "bottlerocket": ANYMAP,
    "containerRuntime": S,
    "instanceSelector": ANYMAP,
}

MANAGED_NODE_GROUP = objlist(
    "ManagedNodeGroup",
    True,
    **NODE_GROUP_BASE,
    instanceTypes=STRLIST_ON,
    taints=Field("list", effect=True, item=obj("NodeGroupTaint", True, key=S_ON, value=S_ON, effect=S_ON)),
    spot=B,
    updateConfig=ANYMAP,
    launchTemplate=ANYMAP,
    releaseVersion=S,
    nodeRepairConfig=ANYMAP,
)

NODE_GROUP = objlist(
    "NodeGroup",
    True,
    **NODE_GROUP_BASE,
    taints=Field("list", effect=True, item=obj("NodeGroupTaint", True, key=S_ON, value=S_ON, effect=S_ON)),
    instancesDistribution=ANYMAP,
    kubeletExtraConfig=ANYMAP,
    clusterDNS=S,
    targetGroupARNs=STRLIST,
    classicLoadBalancerNames=STRLIST,
    cpuCredits=S,
    localZones=STRLIST,
    enableWarmPool=B,
    warmPool=ANYMAP,
    updateConfig=ANYMAP,
)

ADDON = objlist(
    "Addon",
    True,
    name=S_ON,
    version=S_ON,
    serviceAccountRoleARN=S_ON,
    attachPolicyARNs=STRLIST,
    attachPolicy=ANYMAP,
    permissionsBoundary=S,
    wellKnownPolicies=obj("WellKnownPolicies", **dict.fromkeys(_WELL_KNOWN_NAMES, B)),
    tags=STRMAP_ON,
    resolveConflicts=S_ON,
    configurationValues=S_ON,
    force=B,
    podIdentityAssociations=Field(
        "list",
        effect=True,
        item=obj("PodIdentityAssociation", True, **POD_IDENTITY_FIELDS),
    ),
    useDefaultPodIdentityAssociations=B,
    namespaceConfig=obj("AddonNamespaceConfig", True, namespace=S_ON),
)

CLUSTER_CONFIG = Obj(
    "ClusterConfig",
    {
        "apiVersion": S_ON,
        "kind": S_ON,
        "metadata": obj(
            "ClusterMeta",
            True,
            name=S_ON,
            region=S_ON,
            version=S_ON,
            tags=STRMAP_ON,
            annotations=STRMAP,
            accountID=S,
        ),
        "iam": obj(
            "ClusterIAM",
            True,
            serviceRoleARN=S_ON,
            serviceRolePermissionsBoundary=S_ON,
            fargatePodExecutionRoleARN=S,
            fargatePodExecutionRolePermissionsBoundary=S,
            withOIDC=B_ON,
            serviceAccounts=Field("list", effect=True, item=ANYMAP),  # IRSA: podid.iac.irsa
            podIdentityAssociations=Field(
                "list", effect=True, item=obj("PodIdentityAssociation", True, **POD_IDENTITY_FIELDS)
            ),
            vpcResourceControllerPolicy=B,
        ),
        "addons": ADDON,
        "addonsConfig": obj("AddonsConfig", autoApplyPodIdentityAssociations=B, disableDefaultAddons=B),
        "managedNodeGroups": MANAGED_NODE_GROUP,
        "nodeGroups": NODE_GROUP,
        "vpc": ANYMAP,
        "availabilityZones": STRLIST,
        "localZones": STRLIST,
        "cloudWatch": ANYMAP,
        "secretsEncryption": ANYMAP,
        "kubernetesNetworkConfig": ANYMAP,
        "accessConfig": ANYMAP,
        "fargateProfiles": Field("list", item=ANYMAP),
        "identityProviders": Field("list", item=ANYMAP),
        "gitops": ANYMAP,
        "karpenter": ANYMAP,
        "outpost": ANYMAP,
        "privateCluster": ANYMAP,
        "zonalShiftConfig": ANYMAP,
        "autoModeConfig": ANYMAP,
        "remoteNetworkConfig": ANYMAP,
    },
)


# --- strict decoding -------------------------------------------------------------------------------
_JSON_TYPE = {str: "string", bool: "bool", int: "number", float: "number", dict: "object", list: "array"}
_GO_TYPE = {"string": "string", "int": "int", "bool": "bool", "float": "float64"}


def _json_type(value: object) -> str:
    return _JSON_TYPE.get(type(value), "object")


def _mismatch(value: object, struct: str, path: str, go_type: str) -> ConfigError:
    return ConfigError(
        f"json: cannot unmarshal {_json_type(value)} into Go struct field {struct}.{path} of type {go_type}"
    )


def _go_type(spec: Field) -> str:
    if spec.kind in _GO_TYPE:
        return _GO_TYPE[spec.kind]
    if spec.kind == "map":
        assert isinstance(spec.item, Field)
        return "map[string]" + ("interface {}" if spec.item.kind == "any" else _go_type(spec.item))
    if spec.kind == "list":
        assert spec.item is not None
        inner = spec.item
        if isinstance(inner, Field) and inner.kind == "obj":
            assert isinstance(inner.item, Obj)
            return "[]*v1alpha5." + inner.item.go_name
        assert isinstance(inner, Field)
        return "[]" + _go_type(inner)
    if spec.kind == "obj":
        assert isinstance(spec.item, Obj)
        return "v1alpha5." + spec.item.go_name
    return "interface {}"


@dataclass
class Decoded:
    """The checked document and the paths of fields that have no effect locally (in order, once)."""

    document: dict[str, Any]
    no_effect: list[str] = field(default_factory=list)


def _check(value: Any, spec: Field, struct: str, path: str, out: Decoded) -> None:
    if value is None or spec.kind == "any":
        return
    if not spec.effect and path not in out.no_effect:
        out.no_effect.append(path)
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            raise _mismatch(value, struct, path, "string")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _mismatch(value, struct, path, "int")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(value, struct, path, "float64")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _mismatch(value, struct, path, "bool")
    elif kind == "map":
        if not isinstance(value, dict):
            raise _mismatch(value, struct, path, _go_type(spec))
        assert isinstance(spec.item, Field)
        for key, item in value.items():
            _check(item, spec.item, struct, f"{path}.{key}", _Quiet(out))
    elif kind == "list":
        if not isinstance(value, list):
            raise _mismatch(value, struct, path, _go_type(spec))
        assert isinstance(spec.item, Field)
        # scalar items are reported through their list; objects field by field
        target = out if spec.item.kind == "obj" else _Quiet(out)
        for i, item in enumerate(value):
            _check(item, spec.item, struct, f"{path}[{i}]", target)
    elif kind == "obj":
        assert isinstance(spec.item, Obj)
        if not isinstance(value, dict):
            raise _mismatch(value, struct, path, _go_type(spec))
        _check_object(value, spec.item, path, out)


class _Quiet(Decoded):
    """Map values are reported through their map, not one by one."""

    def __init__(self, parent: Decoded) -> None:
        super().__init__(parent.document, [])


def _check_object(value: dict[str, Any], schema: Obj, prefix: str, out: Decoded) -> None:
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        spec = schema.fields.get(str(key))
        if spec is None:
            raise ConfigError(f'json: unknown field "{path}"')
        _check(item, spec, schema.go_name, path, out)


def decode(document: object) -> Decoded:
    """Check a parsed YAML document against the schema; the document itself is returned unchanged."""
    if not isinstance(document, dict):
        raise ConfigError(
            f"json: cannot unmarshal {_json_type(document)} into Go value of type v1alpha5.ClusterConfig"
        )
    out = Decoded(document)
    _check_object(document, CLUSTER_CONFIG, "", out)
    if document.get("kind") != KIND:
        raise ConfigError(f'kind "{document.get("kind")}" is not supported: use kind: {KIND}')
    if document.get("apiVersion") != API_VERSION:
        raise ConfigError(
            f'no kind "{KIND}" is registered for version "{document.get("apiVersion")}" '
            f"(supported: apiVersion: {API_VERSION})"
        )
    return out
