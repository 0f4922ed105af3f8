"""`eksctl delete cluster`, `get cluster` and `create|get|delete podidentityassociation`.

Deleting a cluster follows eksctl: its Pod Identity associations (and the roles eksctl made for
them), its node groups (waited until gone), its add-ons, the control plane (waited until gone),
then the cluster and node roles eksctl made. Roles the user passed by ARN are never touched; roles
are recognised by the tags `podid.iac.eksctl.roles` puts on them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import yaml

from podid.iac.eksctl.clients import EksctlError, Podid, Progress, wait_for
from podid.iac.eksctl.config import PodIdentity
from podid.iac.eksctl.create import Creator
from podid.iac.eksctl.roles import CLUSTER_TAG, RoleMaker


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code", ""))
    return ""


def _gone(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except Exception as exc:
        if _code(exc) == "ResourceNotFoundException":
            return True
        raise
    return False


def tabulate(rows: list[list[str]]) -> str:
    """eksctl's aligned tables (columns padded with spaces)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


@dataclass
class Manager:
    podid: Podid
    progress: Progress
    timeout: float

    # --- clusters ---------------------------------------------------------------------------------
    def delete_cluster(self, name: str, region: str, wait: bool = True) -> None:
        p = self.progress
        eks = self.podid.client("eks", region)
        iam = self.podid.client("iam", region)
        roles = RoleMaker(iam, name)
        try:
            eks.describe_cluster(name=name)
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            leftovers = roles.owned()
            if not leftovers:
                raise EksctlError(
                    f"unable to describe cluster control plane: ResourceNotFoundException: "
                    f"No cluster found for name: {name}."
                ) from None
            # a `create cluster` that failed half-way: remove the roles it made
            p.info(f'cluster "{name}" does not exist; deleting the IAM roles eksctl made for it')
            for role in leftovers:
                roles.delete(role)
                p.info(f'deleted IAM role "{role}"')
            p.success("all cluster resources were deleted")
            return
        p.info(f'deleting EKS cluster "{name}"')
        associations = self._associations(eks, name, None, None)
        for assoc in associations:
            if assoc.get("ownerArn"):
                continue  # an add-on's; it goes with the add-on
            eks.delete_pod_identity_association(clusterName=name, associationId=assoc["associationId"])
            p.info(
                f'deleted pod identity association "{assoc["namespace"]}/{assoc["serviceAccount"]}" '
                f"({assoc['associationId']})"
            )
        from podid.iac.irsa import delete_cluster_iam

        delete_cluster_iam(iam, eks, name, region, p)  # IRSA: iamserviceaccount roles, the OIDC provider
        groups = eks.list_nodegroups(clusterName=name).get("nodegroups") or []
        tasks = [f'delete nodegroup "{g}"' for g in groups] + [f'delete cluster control plane "{name}"']
        p.info(f"{len(tasks)} sequential tasks: {{ {', '.join(tasks)} }}")
        for group in groups:
            eks.delete_nodegroup(clusterName=name, nodegroupName=group)
            p.info(f'waiting for nodegroup "{group}" to get deleted')
            wait_for(
                functools.partial(_gone, eks.describe_nodegroup, clusterName=name, nodegroupName=group),
                f'nodegroup "{group}" to be deleted',
                self.timeout,
            )
            self._wait_nodes_gone(region, name, group)
            p.success(f'deleted nodegroup "{group}"')
        for addon in eks.list_addons(clusterName=name).get("addons") or []:
            eks.delete_addon(clusterName=name, addonName=addon)
            p.info(f'deleted addon "{addon}"')
        eks.delete_cluster(name=name)
        if wait:
            wait_for(
                lambda: _gone(eks.describe_cluster, name=name),
                f'cluster "{name}" to be deleted',
                self.timeout,
            )
            self._wait_teardown(region, name)
        for role in roles.owned():
            roles.delete(role)
            p.info(f'deleted IAM role "{role}"')
        p.success("all cluster resources were deleted")

    def _wait_nodes_gone(self, region: str, cluster: str, group: str) -> None:
        """As eksctl waits for a node group's instances to terminate: its nodes leave the local cluster."""
        kube = self.podid.kube(region, cluster)
        selector = f"eks.amazonaws.com/nodegroup={group}"
        try:
            kube.objects("Node", None, selector)
        except EksctlError:
            return  # no local runtime (podid serve --no-runtime): no nodes to wait for
        wait_for(
            lambda: not kube.objects("Node", None, selector),
            f'the nodes of nodegroup "{group}" to be removed',
            self.timeout,
        )

    def _wait_teardown(self, region: str, cluster: str) -> None:
        """Until the local runtime has stopped every process of the deleted cluster."""
        from podid.cli.kubectl import KubectlError, connect

        key = f"{self.podid.account_id}/{region}/{cluster}"
        try:
            client = connect(self.podid.state_dir)

            def finished() -> bool:
                answer = client.call("GET", "/clusters")
                names = {f"{c['account']}/{c['region']}/{c['name']}" for c in answer.get("clusters") or []}
                return key not in names and key not in (answer.get("terminating") or [])

            wait_for(finished, f'the processes of cluster "{cluster}" to stop', self.timeout)
        except KubectlError:
            return  # no local runtime: nothing runs for the cluster

    def get_clusters(self, region: str, name: str | None, output: str) -> str:
        eks = self.podid.client("eks", region)
        names = [name] if name else list(eks.list_clusters().get("clusters") or [])
        clusters = []
        for n in names:
            try:
                clusters.append(eks.describe_cluster(name=n)["cluster"])
            except Exception as exc:
                if _code(exc) == "ResourceNotFoundException":
                    raise EksctlError(
                        f"unable to describe control plane {n!r}: ResourceNotFoundException: "
                        f"No cluster found for name: {n}."
                    ) from None
                raise
        if output in ("json", "yaml"):
            data = [
                {
                    "Name": c["name"],
                    "Region": region,
                    "Owned": str(CLUSTER_TAG in (c.get("tags") or {})).lower(),
                }
                if not name
                else _jsonable(c)
                for c in clusters
            ]
            return (
                json.dumps(data, indent=4) + "\n"
                if output == "json"
                else yaml.safe_dump(data, sort_keys=False)
            )
        if not clusters:
            return ""
        if name:
            c = clusters[0]
            vpc = c.get("resourcesVpcConfig") or {}
            rows = [
                ["NAME", "VERSION", "STATUS", "CREATED", "VPC", "SUBNETS", "SECURITYGROUPS", "PROVIDER"],
                [
                    c["name"],
                    c.get("version", ""),
                    c.get("status", ""),
                    c["createdAt"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                    vpc.get("vpcId", ""),
                    ",".join(vpc.get("subnetIds") or []),
                    ",".join(vpc.get("securityGroupIds") or []),
                    "EKS",
                ],
            ]
            return tabulate(rows)
        rows = [["NAME", "REGION", "EKSCTL CREATED"]]
        rows += [
            [c["name"], region, "True" if CLUSTER_TAG in (c.get("tags") or {}) else "False"] for c in clusters
        ]
        return tabulate(rows)

    # --- pod identity associations ---------------------------------------------------------------------
    def _associations(
        self, eks: Any, cluster: str, namespace: str | None, service_account: str | None
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"clusterName": cluster}
        if namespace:
            kwargs["namespace"] = namespace
        if service_account:
            kwargs["serviceAccount"] = service_account
        out: list[dict[str, Any]] = []
        for page in eks.get_paginator("list_pod_identity_associations").paginate(**kwargs):
            out += page.get("associations") or []
        return out

    def _require_cluster(self, eks: Any, cluster: str) -> None:
        try:
            eks.describe_cluster(name=cluster)
        except Exception as exc:
            if _code(exc) == "ResourceNotFoundException":
                raise EksctlError(
                    f'cluster "{cluster}" not found: ResourceNotFoundException: '
                    f"No cluster found for name: {cluster}."
                ) from None
            raise

    def create_pod_identities(self, cluster: str, region: str, identities: list[PodIdentity]) -> None:
        eks = self.podid.client("eks", region)
        self._require_cluster(eks, cluster)
        addons = eks.list_addons(clusterName=cluster).get("addons") or []
        if "eks-pod-identity-agent" not in addons:
            self.progress.warning(
                'the "eks-pod-identity-agent" addon is not installed: pods get no credentials until it is '
                "(`aws eks create-addon --cluster-name "
                f"{cluster} --addon-name eks-pod-identity-agent`)"
            )
        creator = Creator(self.podid, self.progress, self.timeout)
        roles = RoleMaker(self.podid.client("iam", region), cluster)
        for identity in identities:
            creator.create_pod_identity(eks, roles, cluster, region, identity, "podidentity")

    def get_pod_identities(
        self, cluster: str, region: str, namespace: str | None, service_account: str | None, output: str
    ) -> str:
        eks = self.podid.client("eks", region)
        self._require_cluster(eks, cluster)
        found = []
        for summary in self._associations(eks, cluster, namespace, service_account):
            found.append(
                eks.describe_pod_identity_association(
                    clusterName=cluster, associationId=summary["associationId"]
                )["association"]
            )
        if output in ("json", "yaml"):
            data = [
                {
                    "AssociationARN": a["associationArn"],
                    "Namespace": a["namespace"],
                    "ServiceAccountName": a["serviceAccount"],
                    "RoleARN": a["roleArn"],
                    **({"OwnerARN": a["ownerArn"]} if a.get("ownerArn") else {}),
                }
                for a in found
            ]
            return (
                json.dumps(data, indent=4) + "\n"
                if output == "json"
                else yaml.safe_dump(data, sort_keys=False)
            )
        if not found:
            return ""
        rows = [["ASSOCIATION ARN", "NAMESPACE", "SERVICE ACCOUNT NAME", "IAM ROLE ARN", "OWNER ARN"]]
        rows += [
            [a["associationArn"], a["namespace"], a["serviceAccount"], a["roleArn"], a.get("ownerArn") or ""]
            for a in found
        ]
        return tabulate(rows)

    def delete_pod_identities(self, cluster: str, region: str, targets: list[tuple[str, str]]) -> None:
        p = self.progress
        eks = self.podid.client("eks", region)
        self._require_cluster(eks, cluster)
        roles = RoleMaker(self.podid.client("iam", region), cluster)
        for namespace, service_account in targets:
            ref = f"{namespace}/{service_account}"
            found = self._associations(eks, cluster, namespace, service_account)
            if not found:
                raise EksctlError(f'pod identity association "{ref}" not found')
            for assoc in found:
                eks.delete_pod_identity_association(clusterName=cluster, associationId=assoc["associationId"])
                p.info(f'deleted pod identity association "{ref}" ({assoc["associationId"]})')
            for role in roles.owned(f"podidentity/{ref}"):
                roles.delete(role)
                p.info(f'deleted IAM role "{role}"')
        p.success(f"{len(targets)} pod identity association(s) deleted")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
