"""`eksctl create cluster -f`: the cluster, its roles, add-ons, node groups and Pod Identity associations.

Order (eksctl's): the service role and the control plane (waited ACTIVE), the add-ons (created
with their Pod Identity associations), the node groups with their node roles (waited ACTIVE, then
every node Ready in the runtime), then each add-on waited ACTIVE (`eks-pod-identity-agent`: one
Running, ready agent pod on every node), then `iam.podIdentityAssociations` (roles, service
accounts, associations). It returns only when all of it holds.

Choices: without an `addons` list, eksctl's default add-ons (vpc-cni, kube-proxy, coredns) are
installed; with `iam.podIdentityAssociations` and no `eks-pod-identity-agent` add-on, the add-on is
added (associations do nothing without the agent), with an info line saying so. Subnets are
synthesized (podid has no VPCs) and reported as such.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from podid.iac.eksctl.clients import EksctlError, Podid, Progress, is_ready, wait_for
from podid.iac.eksctl.config import Addon, ClusterConfig, NodeGroup, PodIdentity
from podid.iac.eksctl.roles import (
    CLUSTER_POLICIES,
    CLUSTER_TAG,
    NODE_POLICIES,
    TRUST_EC2,
    TRUST_EKS,
    RoleMaker,
    generated_name,
)

AGENT = "eks-pod-identity-agent"
AGENT_SELECTOR = "app.kubernetes.io/name=eks-pod-identity-agent"
DEFAULT_ADDONS = ("vpc-cni", "kube-proxy", "coredns")
EKSCTL_VERSION = "0.194.0-podid"


def cluster_tags(name: str) -> dict[str, str]:
    """The tags eksctl puts on what it creates for a cluster."""
    return {
        CLUSTER_TAG: name,
        "eksctl.cluster.k8s.io/v1alpha1/cluster-name": name,
        "alpha.eksctl.io/eksctl-version": EKSCTL_VERSION,
    }


@dataclass
class Creator:
    podid: Podid
    progress: Progress
    timeout: float

    def create_cluster(self, cfg: ClusterConfig, explicit_addons: bool) -> None:
        try:
            self._create_cluster(cfg, explicit_addons)
        except Exception:
            # eksctl's words: it leaves what it made for `delete cluster` to remove
            self.progress.error(f'failed to create cluster "{cfg.name}"')
            self.progress.info(
                "to cleanup resources, run "
                f"'podid eksctl delete cluster --region={cfg.region} --name={cfg.name}'"
            )
            raise

    def _create_cluster(self, cfg: ClusterConfig, explicit_addons: bool) -> None:
        p = self.progress
        eks = self.podid.client("eks", cfg.region)
        iam = self.podid.client("iam", cfg.region)
        roles = RoleMaker(iam, cfg.name)
        p.info(f"eksctl version {EKSCTL_VERSION} (podid)")
        p.info(f"using region {cfg.region}")
        for path in cfg.no_effect:
            p.warning(f"{path}: accepted, has no effect locally")
        zones = [f"{cfg.region}{z}" for z in "abc"]
        p.info(f"setting availability zones to [{' '.join(zones)}]")
        subnets = [f"subnet-{secrets.token_hex(9)[:17]}" for _ in zones]
        p.info(f"subnets {', '.join(subnets)} are recorded only: podid has no VPCs")
        version = cfg.version
        p.info(f"using Kubernetes version {version or '(the EKS default)'}")
        managed = [g for g in cfg.node_groups if g.managed]
        kind = (
            "with managed nodes"
            if managed
            else "with un-managed nodes"
            if cfg.node_groups
            else "without nodes"
        )
        p.info(f'creating EKS cluster "{cfg.name}" in "{cfg.region}" region {kind}')
        if cfg.node_groups:
            names = ", ".join(g.name for g in cfg.node_groups)
            p.info(f"{len(cfg.node_groups)} nodegroup(s) ({names}) will be created")

        addons = list(cfg.addons)
        if not explicit_addons:
            addons = [Addon(name) for name in DEFAULT_ADDONS]
            p.info(f"no addons listed: installing eksctl's default addons ({', '.join(DEFAULT_ADDONS)})")
        if cfg.pod_identities and not any(a.name == AGENT for a in addons):
            addons.append(Addon(AGENT))
            p.info(f'iam.podIdentityAssociations need the "{AGENT}" addon: adding it')

        # the control plane
        role_arn = cfg.service_role_arn
        if not role_arn:
            role_arn = roles.create(
                generated_name(f"eksctl-{cfg.name}-cluster-ServiceRole"),
                TRUST_EKS,
                "cluster",
                CLUSTER_POLICIES,
                boundary=cfg.service_role_boundary,
                tags=cfg.tags,
            )
            p.info(f'created cluster service role "{role_arn}"')
        eks.create_cluster(
            name=cfg.name,
            **({"version": version} if version else {}),
            roleArn=role_arn,
            resourcesVpcConfig={
                "subnetIds": subnets,
                "endpointPublicAccess": True,
                "endpointPrivateAccess": False,
            },
            tags={**cluster_tags(cfg.name), **cfg.tags},
        )
        p.info("waiting for the control plane to become ready")
        wait_for(
            lambda: eks.describe_cluster(name=cfg.name)["cluster"]["status"] == "ACTIVE",
            f'cluster "{cfg.name}" to become ACTIVE',
            self.timeout,
        )
        p.success(f'control plane "{cfg.name}" is ACTIVE')

        for addon in addons:
            self._create_addon(eks, roles, cfg, addon)

        for group in cfg.node_groups:
            self._create_node_group(eks, roles, cfg, group, subnets)
        self._wait_nodes(cfg)

        for addon in addons:
            self._wait_addon(eks, cfg, addon.name)

        for identity in cfg.pod_identities:
            self.create_pod_identity(eks, roles, cfg.name, cfg.region, identity, "podidentity")

        if cfg.with_oidc:
            from podid.iac.irsa import apply_cluster_config_iam

            apply_cluster_config_iam(
                iam,
                eks,
                self.podid.kube(cfg.region, cfg.name),
                cluster=cfg.name,
                region=cfg.region,
                with_oidc=cfg.with_oidc,
                service_accounts=cfg.service_accounts,
                log=p,
            )

        p.success(f'all EKS cluster resources for "{cfg.name}" have been created')
        p.info(
            f"kubectl command should work with `podid kubectl --context {cfg.name}`, "
            "try 'podid kubectl get nodes'"
        )
        p.success(f'EKS cluster "{cfg.name}" in "{cfg.region}" region is ready')

    # -------------------------------------------------------------------------------------------------
    def _create_addon(self, eks: Any, roles: RoleMaker, cfg: ClusterConfig, addon: Addon) -> None:
        p = self.progress
        p.info(f'creating addon "{addon.name}"')
        kwargs: dict[str, Any] = {"clusterName": cfg.name, "addonName": addon.name}
        if addon.version:
            kwargs["addonVersion"] = addon.version
        if addon.service_account_role_arn:
            kwargs["serviceAccountRoleArn"] = addon.service_account_role_arn
        if addon.tags:
            kwargs["tags"] = addon.tags
        if addon.resolve_conflicts:
            kwargs["resolveConflicts"] = addon.resolve_conflicts
        if addon.configuration_values:
            kwargs["configurationValues"] = addon.configuration_values
        if addon.namespace:
            kwargs["namespaceConfig"] = {"namespace": addon.namespace}
        associations = []
        for identity in addon.pod_identities:
            role_arn = identity.role_arn or roles.pod_identity_role(
                identity.namespace,
                identity.service_account,
                identity.role_name,
                identity.permission_policy_arns,
                identity.permission_policy,
                identity.well_known_policies,
                identity.permissions_boundary_arn,
                identity.tags,
                f"addon/{addon.name}/{identity.service_account}",
            )
            associations.append({"serviceAccount": identity.service_account, "roleArn": role_arn})
        if associations:
            kwargs["podIdentityAssociations"] = associations
        eks.create_addon(**kwargs)
        p.success(f'created addon "{addon.name}"')

    def _create_node_group(
        self, eks: Any, roles: RoleMaker, cfg: ClusterConfig, group: NodeGroup, subnets: list[str]
    ) -> None:
        p = self.progress
        kind = "managed nodegroup" if group.managed else "nodegroup"
        role_arn = group.instance_role_arn
        if not role_arn:
            inline = {"PolicyNodeGroup": group.attach_policy} if group.attach_policy else None
            role_arn = roles.create(
                group.instance_role_name
                or generated_name(f"eksctl-{cfg.name}-nodegroup-{group.name}-NodeInstanceRole"),
                TRUST_EC2,
                f"nodegroup/{group.name}",
                group.attach_policy_arns or NODE_POLICIES,
                inline,
                group.instance_role_boundary,
                {**cfg.tags, **group.tags},
            )
            p.info(f'created node role "{role_arn}" for {kind} "{group.name}"')
        kwargs: dict[str, Any] = {
            "clusterName": cfg.name,
            "nodegroupName": group.name,
            "nodeRole": role_arn,
            "subnets": subnets,
            "scalingConfig": {
                "minSize": group.min_size,
                "maxSize": group.max_size,
                "desiredSize": group.desired,
            },
            "instanceTypes": list(group.instance_types),
            "diskSize": group.volume_size,
            "tags": {
                **cluster_tags(cfg.name),
                "alpha.eksctl.io/nodegroup-name": group.name,
                **cfg.tags,
                **group.tags,
            },
        }
        if group.labels:
            kwargs["labels"] = group.labels
        if group.taints:
            kwargs["taints"] = [
                {
                    "key": t.get("key", ""),
                    "value": t.get("value", ""),
                    "effect": _taint_effect(t.get("effect", "")),
                }
                for t in group.taints
            ]
        p.info(f'creating {kind} "{group.name}" ({group.desired} x {group.instance_types[0]})')
        eks.create_nodegroup(**kwargs)
        wait_for(
            lambda: (
                eks.describe_nodegroup(clusterName=cfg.name, nodegroupName=group.name)["nodegroup"]["status"]
                == "ACTIVE"
            ),
            f'nodegroup "{group.name}" to become ACTIVE',
            self.timeout,
        )
        p.success(f'created {kind} "{group.name}"')

    def _wait_nodes(self, cfg: ClusterConfig) -> None:
        if not cfg.node_groups:
            return
        p = self.progress
        kube = self.podid.kube(cfg.region, cfg.name)
        for group in cfg.node_groups:
            selector = f"eks.amazonaws.com/nodegroup={group.name}"
            p.info(f'waiting for at least {group.min_size} node(s) to become ready in "{group.name}"')

            def ready(selector: str = selector, want: int = group.desired) -> bool:
                nodes = kube.objects("Node", None, selector)
                return sum(1 for n in nodes if is_ready(n)) >= want

            wait_for(ready, f'{group.desired} ready node(s) in nodegroup "{group.name}"', self.timeout)
            nodes = kube.objects("Node", None, selector)
            p.info(f'nodegroup "{group.name}" has {len(nodes)} node(s)')
            for node in nodes:
                p.info(f'node "{node["metadata"]["name"]}" is ready')

    def _wait_addon(self, eks: Any, cfg: ClusterConfig, name: str) -> None:
        p = self.progress
        wait_for(
            lambda: eks.describe_addon(clusterName=cfg.name, addonName=name)["addon"]["status"] == "ACTIVE",
            f'addon "{name}" to become ACTIVE',
            self.timeout,
        )
        if name == AGENT and cfg.node_groups:
            kube = self.podid.kube(cfg.region, cfg.name)

            def agents_ready() -> bool:
                nodes = {n["metadata"]["name"] for n in kube.objects("Node") if is_ready(n)}
                pods = kube.objects("Pod", "kube-system", AGENT_SELECTOR)
                on = {pod["spec"].get("nodeName") for pod in pods if is_ready(pod)}
                return bool(nodes) and nodes <= on

            p.info(f'waiting for a ready "{AGENT}" pod on every node')
            wait_for(agents_ready, f'a Running, ready "{AGENT}" pod on every node', self.timeout)
        p.success(f'addon "{name}" is ACTIVE')

    def create_pod_identity(
        self, eks: Any, roles: RoleMaker, cluster: str, region: str, identity: PodIdentity, purpose: str
    ) -> dict[str, Any]:
        """A role (unless roleARN is given), the service account if asked, then the association."""
        p = self.progress
        ref = f"{identity.namespace}/{identity.service_account}"
        role_arn = identity.role_arn
        if not role_arn:
            role_arn = roles.pod_identity_role(
                identity.namespace,
                identity.service_account,
                identity.role_name,
                identity.permission_policy_arns,
                identity.permission_policy,
                identity.well_known_policies,
                identity.permissions_boundary_arn,
                identity.tags,
                f"{purpose}/{ref}",
            )
            p.info(f'created IAM role "{role_arn}" for pod identity association "{ref}"')
        if identity.create_service_account:
            kube = self.podid.kube(region, cluster)
            for line in kube.apply(
                [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": identity.namespace}},
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {
                            "name": identity.service_account,
                            "namespace": identity.namespace,
                            "labels": {"app.kubernetes.io/managed-by": "eksctl"},
                        },
                    },
                ]
            ):
                p.info(line)
        kwargs: dict[str, Any] = {
            "clusterName": cluster,
            "namespace": identity.namespace,
            "serviceAccount": identity.service_account,
            "roleArn": role_arn,
        }
        if identity.tags:
            kwargs["tags"] = identity.tags
        if identity.target_role_arn:
            kwargs["targetRoleArn"] = identity.target_role_arn
        if identity.disable_session_tags:
            kwargs["disableSessionTags"] = True
        association = eks.create_pod_identity_association(**kwargs)["association"]
        p.success(f'created pod identity association "{ref}" ({association["associationId"]})')
        return dict(association)


def _taint_effect(effect: str) -> str:
    return {
        "NoSchedule": "NO_SCHEDULE",
        "PreferNoSchedule": "PREFER_NO_SCHEDULE",
        "NoExecute": "NO_EXECUTE",
    }.get(effect, effect)


def check_exists(eks: Any, name: str) -> None:
    """eksctl refuses to create a cluster whose name is taken."""
    try:
        eks.describe_cluster(name=name)
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
            return
        raise
    raise EksctlError(
        f'cluster "{name}" already exists: delete it first (`podid eksctl delete cluster --name {name}`)'
    )
