"""The `eks` provider: one method per operation of the rest-json EKS model, over `EksDomain`.

Authorization (declared per operation, evaluated by the gateway before dispatch):
- cluster operations: `eks:<Operation>` on `arn:aws:eks:<region>:<account>:cluster/<name>`;
  ListClusters on `.../cluster/*`; DescribeAddonVersions on `*`;
- node-group and add-on operations on their ARN with the uuid part as `*` (the gateway asks before
  the object is looked up); Create* on the cluster ARN;
- associations: Create/List on the cluster ARN, Describe/Update/Delete on the association ARN;
- `iam:PassRole` on the role handed to EKS: the cluster role (`iam:PassedToService`
  `eks.amazonaws.com`), the node role (`eks.amazonaws.com`), and an association's `roleArn`
  (`pods.eks.amazonaws.com`, the service principal that will assume it);
- creates and TagResource add `aws:RequestTag/<key>` and `aws:TagKeys`; UntagResource `aws:TagKeys`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from podid.services.base import AuthzCheck, Call, Params, Provider, Result, operation
from podid.services.eks import catalog
from podid.services.eks.domain import EksDomain, page
from podid.services.eks.errors import BadRequestException, InvalidParameterException, NotFoundException
from podid.services.eks.model import Cluster
from podid.services.eks.render import addon_to_api, cluster_to_api, nodegroup_to_api
from podid.services.eks.validation import validate_tags

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
EKS_SERVICE = "eks.amazonaws.com"


def _arn(call: Call, rest: str) -> str:
    return f"arn:aws:eks:{call.region}:{call.account}:{rest}"


def _tag_context(tags: Mapping[str, str] | None) -> dict[str, str | list[str]]:
    if not tags:
        return {}
    ctx: dict[str, str | list[str]] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    ctx["aws:TagKeys"] = list(tags)
    return ctx


def _pass_role(role_arn: object, service: str) -> list[AuthzCheck]:
    if not isinstance(role_arn, str) or not role_arn:
        return []
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 4 and parts[4] else None
    return [
        AuthzCheck(
            "iam:PassRole",
            role_arn,
            context={"iam:PassedToService": service},
            resource_account=account,
        )
    ]


def _cluster_check(action: str, name_member: str) -> Any:
    def authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
        return (AuthzCheck(action, _arn(call, f"cluster/{params.get(name_member, '')}")),)

    return authz


def _authz_create_cluster(call: Call, params: Params) -> Sequence[AuthzCheck]:
    checks = [
        AuthzCheck(
            "eks:CreateCluster",
            _arn(call, f"cluster/{params.get('name', '')}"),
            _tag_context(params.get("tags")),
        )
    ]
    return checks + _pass_role(params.get("roleArn"), EKS_SERVICE)


def _authz_create_nodegroup(call: Call, params: Params) -> Sequence[AuthzCheck]:
    checks = [
        AuthzCheck(
            "eks:CreateNodegroup",
            _arn(call, f"cluster/{params.get('clusterName', '')}"),
            _tag_context(params.get("tags")),
        )
    ]
    return checks + _pass_role(params.get("nodeRole"), EKS_SERVICE)


def _nodegroup_check(action: str) -> Any:
    def authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
        rest = f"nodegroup/{params.get('clusterName', '')}/{params.get('nodegroupName', '')}/*"
        return (AuthzCheck(action, _arn(call, rest)),)

    return authz


def _addon_check(action: str) -> Any:
    def authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
        rest = f"addon/{params.get('clusterName', '')}/{params.get('addonName', '')}/*"
        return (AuthzCheck(action, _arn(call, rest)),)

    return authz


def _authz_create_addon(call: Call, params: Params) -> Sequence[AuthzCheck]:
    checks = [
        AuthzCheck(
            "eks:CreateAddon",
            _arn(call, f"cluster/{params.get('clusterName', '')}"),
            _tag_context(params.get("tags")),
        )
    ]
    for item in params.get("podIdentityAssociations") or ():
        checks += _pass_role(item.get("roleArn"), POD_IDENTITY_SERVICE)
    return checks


def _authz_create_association(call: Call, params: Params) -> Sequence[AuthzCheck]:
    checks = [
        AuthzCheck(
            "eks:CreatePodIdentityAssociation",
            _arn(call, f"cluster/{params.get('clusterName', '')}"),
            _tag_context(params.get("tags")),
        )
    ]
    return checks + _pass_role(params.get("roleArn"), POD_IDENTITY_SERVICE)


def _association_check(action: str) -> Any:
    def authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
        rest = f"podidentityassociation/{params.get('clusterName', '')}/{params.get('associationId', '')}"
        checks = [AuthzCheck(action, _arn(call, rest))]
        if action == "eks:UpdatePodIdentityAssociation":
            checks += _pass_role(params.get("roleArn"), POD_IDENTITY_SERVICE)
        return checks

    return authz


def _authz_tag(call: Call, params: Params) -> Sequence[AuthzCheck]:
    return (
        AuthzCheck("eks:TagResource", str(params.get("resourceArn", "")), _tag_context(params.get("tags"))),
    )


def _authz_untag(call: Call, params: Params) -> Sequence[AuthzCheck]:
    keys = list(params.get("tagKeys") or [])
    return (AuthzCheck("eks:UntagResource", str(params.get("resourceArn", "")), {"aws:TagKeys": keys}),)


class EksProvider(Provider):
    service_name: ClassVar[str] = "eks"

    def __init__(self, domain: EksDomain) -> None:
        self.domain = domain

    def _cluster(self, call: Call, name: str) -> Cluster:
        return self.domain.get_cluster(call.account, call.region, name)

    def _render(self, cluster: Cluster, status: str | None = None) -> dict[str, Any]:
        return cluster_to_api(cluster, self.domain.issuer_url(cluster), status)

    # --- clusters ------------------------------------------------------------------------------
    @operation("CreateCluster", authz=_authz_create_cluster)
    def create_cluster(self, call: Call, params: Params) -> Result:
        handled = {"name", "version", "roleArn", "resourcesVpcConfig", "tags", "clientRequestToken"}
        cluster = self.domain.create_cluster(
            call.account,
            call.region,
            params["name"],
            role_arn=params["roleArn"],
            version=params.get("version"),
            resources_vpc_config=params.get("resourcesVpcConfig"),
            tags=params.get("tags"),
            client_request_token=params.get("clientRequestToken"),
            config={k: v for k, v in params.items() if k not in handled},
        )
        return {"cluster": self._render(cluster, "CREATING")}

    @operation("DescribeCluster", authz=_cluster_check("eks:DescribeCluster", "name"))
    def describe_cluster(self, call: Call, params: Params) -> Result:
        return {"cluster": self._render(self._cluster(call, params["name"]))}

    @operation("ListClusters", action="eks:ListClusters", resource=lambda c, p: _arn(c, "cluster/*"))
    def list_clusters(self, call: Call, params: Params) -> Result:
        names, token = page(
            self.domain.list_clusters(call.account, call.region),
            params.get("maxResults"),
            params.get("nextToken"),
        )
        return {"clusters": names, **({"nextToken": token} if token else {})}

    @operation("DeleteCluster", authz=_cluster_check("eks:DeleteCluster", "name"))
    def delete_cluster(self, call: Call, params: Params) -> Result:
        gone = self.domain.delete_cluster(call.account, call.region, params["name"])
        return {"cluster": self._render(gone)}

    # --- node groups ---------------------------------------------------------------------------
    @operation("CreateNodegroup", authz=_authz_create_nodegroup)
    def create_nodegroup(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        handled = {"clusterName", "nodegroupName", "nodeRole", "subnets", "tags", "clientRequestToken"}
        group = self.domain.create_nodegroup(
            cluster,
            params["nodegroupName"],
            node_role=params["nodeRole"],
            subnets=params.get("subnets") or [],
            tags=params.get("tags"),
            config={k: v for k, v in params.items() if k not in handled},
        )
        return {"nodegroup": nodegroup_to_api(group, "CREATING")}

    @operation("DescribeNodegroup", authz=_nodegroup_check("eks:DescribeNodegroup"))
    def describe_nodegroup(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        return {"nodegroup": nodegroup_to_api(self.domain.get_nodegroup(cluster, params["nodegroupName"]))}

    @operation("ListNodegroups", authz=_cluster_check("eks:ListNodegroups", "clusterName"))
    def list_nodegroups(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        names, token = page(
            self.domain.list_nodegroups(cluster), params.get("maxResults"), params.get("nextToken")
        )
        return {"nodegroups": names, **({"nextToken": token} if token else {})}

    @operation("DeleteNodegroup", authz=_nodegroup_check("eks:DeleteNodegroup"))
    def delete_nodegroup(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        return {"nodegroup": nodegroup_to_api(self.domain.delete_nodegroup(cluster, params["nodegroupName"]))}

    # --- add-ons -------------------------------------------------------------------------------
    @operation("CreateAddon", authz=_authz_create_addon)
    def create_addon(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        pairs = [(p["serviceAccount"], p["roleArn"]) for p in params.get("podIdentityAssociations") or ()]
        addon = self.domain.create_addon(
            cluster,
            params["addonName"],
            version=params.get("addonVersion"),
            service_account_role_arn=params.get("serviceAccountRoleArn"),
            configuration_values=params.get("configurationValues"),
            pod_identity_associations=pairs,
            tags=params.get("tags"),
            namespace=(params.get("namespaceConfig") or {}).get("namespace"),
        )
        return {"addon": addon_to_api(addon, "CREATING")}

    @operation("DescribeAddon", authz=_addon_check("eks:DescribeAddon"))
    def describe_addon(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        return {"addon": addon_to_api(self.domain.get_addon(cluster, params["addonName"]))}

    @operation("ListAddons", authz=_cluster_check("eks:ListAddons", "clusterName"))
    def list_addons(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        names, token = page(
            self.domain.list_addons(cluster), params.get("maxResults"), params.get("nextToken")
        )
        return {"addons": names, **({"nextToken": token} if token else {})}

    @operation("DeleteAddon", authz=_addon_check("eks:DeleteAddon"))
    def delete_addon(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        gone = self.domain.delete_addon(cluster, params["addonName"], preserve=bool(params.get("preserve")))
        return {"addon": addon_to_api(gone)}

    @operation("DescribeAddonVersions", action="eks:DescribeAddonVersions", resource="*")
    def describe_addon_versions(self, call: Call, params: Params) -> Result:
        k8s = params.get("kubernetesVersion")
        wanted = params.get("addonName")
        types = set(params.get("types") or [])
        specs = [
            s
            for name, s in sorted(catalog.ADDONS.items())
            if (wanted is None or name == wanted) and (not types or s.type in types)
        ]
        infos = [catalog.addon_info(s, k8s) for s in specs]
        infos = [i for i in infos if i["addonVersions"]]
        names = [i["addonName"] for i in infos]
        chosen, token = page(names, params.get("maxResults"), params.get("nextToken"))
        return {
            "addons": [i for i in infos if i["addonName"] in chosen],
            **({"nextToken": token} if token else {}),
        }

    # --- Pod Identity associations ------------------------------------------------------------
    @operation("CreatePodIdentityAssociation", authz=_authz_create_association)
    def create_pod_identity_association(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        assoc = self.domain.associations.create(
            cluster,
            namespace=params["namespace"],
            service_account=params["serviceAccount"],
            role_arn=params["roleArn"],
            target_role_arn=params.get("targetRoleArn"),
            disable_session_tags=params.get("disableSessionTags"),
            policy=params.get("policy"),
            tags=params.get("tags"),
            client_request_token=params.get("clientRequestToken"),
        )
        return {"association": assoc.to_api()}

    @operation(
        "DescribePodIdentityAssociation", authz=_association_check("eks:DescribePodIdentityAssociation")
    )
    def describe_pod_identity_association(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        return {"association": self.domain.associations.get(cluster, params["associationId"]).to_api()}

    @operation("UpdatePodIdentityAssociation", authz=_association_check("eks:UpdatePodIdentityAssociation"))
    def update_pod_identity_association(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        assoc = self.domain.associations.update(
            cluster,
            params["associationId"],
            role_arn=params.get("roleArn"),
            target_role_arn=params.get("targetRoleArn"),
            disable_session_tags=params.get("disableSessionTags"),
            policy=params.get("policy"),
        )
        return {"association": assoc.to_api()}

    @operation("DeletePodIdentityAssociation", authz=_association_check("eks:DeletePodIdentityAssociation"))
    def delete_pod_identity_association(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        return {"association": self.domain.associations.delete(cluster, params["associationId"]).to_api()}

    @operation(
        "ListPodIdentityAssociations", authz=_cluster_check("eks:ListPodIdentityAssociations", "clusterName")
    )
    def list_pod_identity_associations(self, call: Call, params: Params) -> Result:
        cluster = self._cluster(call, params["clusterName"])
        items, token = self.domain.associations.list(
            cluster,
            namespace=params.get("namespace"),
            service_account=params.get("serviceAccount"),
            max_results=params.get("maxResults"),
            next_token=params.get("nextToken"),
        )
        return {"associations": [a.to_summary() for a in items], **({"nextToken": token} if token else {})}

    # --- tags ----------------------------------------------------------------------------------
    @operation("TagResource", authz=_authz_tag)
    def tag_resource(self, call: Call, params: Params) -> Result:
        tags: dict[str, str] = dict(params.get("tags") or {})
        if not tags:
            raise BadRequestException("tags must contain at least one tag.")
        validate_tags(tags, BadRequestException)
        current = self._tags_of(call, params["resourceArn"])
        merged = {**current, **tags}
        if len(merged) > 50:
            raise BadRequestException("Tags are limited to 50 per resource.")
        self._set_tags(call, params["resourceArn"], merged)
        return {}

    @operation("UntagResource", authz=_authz_untag)
    def untag_resource(self, call: Call, params: Params) -> Result:
        keys = set(params.get("tagKeys") or [])
        current = self._tags_of(call, params["resourceArn"])
        self._set_tags(call, params["resourceArn"], {k: v for k, v in current.items() if k not in keys})
        return {}

    @operation(
        "ListTagsForResource", authz=lambda c, p: (AuthzCheck("eks:ListTagsForResource", p["resourceArn"]),)
    )
    def list_tags_for_resource(self, call: Call, params: Params) -> Result:
        return {"tags": self._tags_of(call, params["resourceArn"])}

    def _resolve(self, call: Call, arn: str) -> tuple[str, Any]:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "eks" or "/" not in parts[5]:
            raise BadRequestException(f"Invalid resource ARN: {arn}")
        _, _, _, region, account, rest = parts
        kind, _, path = rest.partition("/")
        segments = path.split("/")
        cluster = self.domain.cluster_by_name(account, region, segments[0])
        found: Any = None
        if cluster is not None and account == call.account:
            if kind == "cluster" and len(segments) == 1:
                found = cluster
            elif kind == "nodegroup" and len(segments) == 3:
                group = self.domain.nodegroup_by_name(cluster, segments[1])
                found = group if group is not None and group.arn == arn else None
            elif kind == "addon" and len(segments) == 3:
                addon = self.domain.addon_by_name(cluster, segments[1])
                found = addon if addon is not None and addon.arn == arn else None
            elif kind == "podidentityassociation" and len(segments) == 2:
                found = self.domain.associations.by_arn(arn)
            elif kind not in ("cluster", "nodegroup", "addon", "podidentityassociation"):
                raise BadRequestException(f"Invalid resource ARN: {arn}")
        if found is None:
            raise NotFoundException(f"Resource {arn} could not be found.")
        return kind, found

    def _tags_of(self, call: Call, arn: str) -> dict[str, str]:
        _, obj = self._resolve(call, arn)
        return dict(obj.tags)

    def _set_tags(self, call: Call, arn: str, tags: dict[str, str]) -> None:
        kind, obj = self._resolve(call, arn)
        if kind == "cluster":
            self.domain.set_cluster_tags(obj, tags)
        elif kind == "nodegroup":
            self.domain.set_nodegroup_tags(obj, tags)
        elif kind == "addon":
            self.domain.set_addon_tags(obj, tags)
        elif kind == "podidentityassociation":
            self.domain.associations.set_tags(obj, tags)
        else:  # pragma: no cover - _resolve refuses other kinds
            raise InvalidParameterException(f"Invalid resource ARN: {arn}")
