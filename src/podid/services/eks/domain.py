"""The EKS control plane's domain logic: clusters, node groups, add-ons, Pod Identity associations.

Tables (keys carry account and region):
  `eks.clusters`      "<account>/<region>/<name>"
  `eks.nodegroups`    "<account>/<region>/<cluster>/<nodegroup>"
  `eks.addons`        "<account>/<region>/<cluster>/<addon>"
  `eks.associations`  "<account>/<region>/<cluster>/<associationId>"  (see associations.py)

podid has no VPCs and no EC2: VPC settings and subnets are recorded as given, never validated.
Resources are created `ACTIVE` in the store and the create response alone says `CREATING`, so the
next read (the waiter's first poll) sees `ACTIVE`. Deletes remove at once; the response says
`DELETING`. A cluster with node groups cannot be deleted (`ResourceInUseException`, as EKS);
its add-ons and associations go with it.

Each cluster has its own RSA signing key (persisted PEM) and OIDC issuer
`<endpoint base URL>/oidc/id/<cluster id>`; `issuer_for(cluster)` returns its `TokenIssuer`.
Changes are announced to listeners (`add_listener`) synchronously after the store write, so that
the local runtime and the webhook see them with read-your-writes consistency.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from podid.clock import Clock
from podid.kube.issuer import TokenIssuer, generate_signing_key
from podid.services.eks import catalog
from podid.services.eks.associations import AssociationBook, PolicyValidator
from podid.services.eks.certs import generate_cluster_ca
from podid.services.eks.errors import (
    InvalidParameterException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from podid.services.eks.model import Addon, Association, Cluster, EksEvent, Nodegroup
from podid.services.eks.validation import (
    CLUSTER_NAME,
    NODEGROUP_NAME,
    RoleLookup,
    parse_role_arn,
    validate_tags,
)
from podid.store import Store

log = logging.getLogger(__name__)

CLUSTERS = "eks.clusters"
NODEGROUPS = "eks.nodegroups"
ADDONS = "eks.addons"

Listener = Callable[[EksEvent], None]


def _default_policy_validator(document: str) -> None:
    # imported here: the policy engine is only needed when a session policy is written
    from podid.policy import MalformedPolicyDocument, parse_policy
    from podid.wire.decode import MAX_JSON_DEPTH, json_depth

    if json_depth(document) > MAX_JSON_DEPTH:
        raise MalformedPolicyDocument("Syntax errors in policy.")
    parse_policy(document, kind="session", max_chars=2048)


def page(
    names: Sequence[str], max_results: int | None, next_token: str | None
) -> tuple[list[str], str | None]:
    """Opaque-token pagination over a sorted list of names (ListClusters/Nodegroups/Addons)."""
    limit = 100 if max_results is None else max_results
    if not 1 <= limit <= 100:
        raise InvalidParameterException("maxResults must be between 1 and 100.")
    start = 0
    if next_token:
        try:
            after = json.loads(base64.urlsafe_b64decode(next_token.encode()))["after"]
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise InvalidParameterException("The nextToken is not valid.") from exc
        start = sum(1 for n in names if n <= after)
    chunk = list(names[start : start + limit])
    more = start + limit < len(names)
    token = base64.urlsafe_b64encode(json.dumps({"after": chunk[-1]}).encode()).decode() if more else None
    return chunk, token


def read_cluster(store: Store, account: str, region: str, name: str) -> Cluster | None:
    """A cluster straight from a store (for other processes, e.g. `podid token create`)."""
    doc = store.get(CLUSTERS, f"{account}/{region}/{name}")
    return Cluster.from_doc(doc) if doc is not None else None


def latest_cluster(store: Store, account: str, region: str) -> Cluster | None:
    """The most recently created cluster of an account and region."""
    clusters = [Cluster.from_doc(doc) for _, doc in store.scan(CLUSTERS, f"{account}/{region}/")]
    return max(clusters, key=lambda c: c.created_at, default=None)


class EksDomain:
    """EKS's state and rules; the provider maps operations onto these methods."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        iam: RoleLookup,
        issuer_base_url: Callable[[], str],
        *,
        validate_policy: PolicyValidator | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.iam = iam
        self.issuer_base_url = issuer_base_url
        self._listeners: list[Listener] = []
        self._issuers: dict[tuple[str, str], TokenIssuer] = {}
        # parsed clusters by key, valid while the store still holds the very same document object
        self._parsed: dict[str, tuple[object, Cluster]] = {}
        self.associations = AssociationBook(
            store, clock, iam, validate_policy or _default_policy_validator, self._emit
        )

    # --- events --------------------------------------------------------------------------------
    def add_listener(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def _emit(self, event: EksEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a listener's bug must not fail the API call that already committed
                log.exception("EKS event listener failed on %s %s", event.kind, event.action)

    # --- clusters ------------------------------------------------------------------------------
    def create_cluster(
        self,
        account: str,
        region: str,
        name: str,
        *,
        role_arn: str,
        version: str | None = None,
        resources_vpc_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Cluster:
        """Create a cluster (stored ACTIVE); `config` holds the other CreateCluster members as given."""
        if not CLUSTER_NAME.match(name or ""):
            raise InvalidParameterException(
                "The cluster name must start with an alphanumeric character and contain only "
                "alphanumerics, '-' and '_' (1 to 100 characters).",
                clusterName=name,
            )
        existing = self.cluster_by_name(account, region, name)
        if existing is not None:
            if client_request_token and existing.client_request_token == client_request_token:
                return existing
            raise ResourceInUseException(f"Cluster already exists with name: {name}", clusterName=name)
        parse_role_arn(role_arn, "roleArn", name)
        version = version or catalog.DEFAULT_VERSION
        if version not in catalog.SUPPORTED_VERSIONS:
            raise InvalidParameterException(
                f"unsupported Kubernetes version {version}; supported versions are "
                f"{', '.join(catalog.SUPPORTED_VERSIONS)}",
                clusterName=name,
            )
        validate_tags(tags, InvalidParameterException)
        now = self.clock.now()
        cluster_id = secrets.token_hex(16).upper()
        vpc = dict(resources_vpc_config or {})
        vpc_out = {
            "subnetIds": list(vpc.get("subnetIds") or []),
            "securityGroupIds": list(vpc.get("securityGroupIds") or []),
            "clusterSecurityGroupId": "sg-" + cluster_id[:17].lower(),
            "vpcId": "vpc-" + cluster_id[-17:].lower(),
            "endpointPublicAccess": bool(vpc.get("endpointPublicAccess", True)),
            "endpointPrivateAccess": bool(vpc.get("endpointPrivateAccess", False)),
            "publicAccessCidrs": list(vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]),
        }
        cfg = {k: v for k, v in (config or {}).items() if v is not None}
        cfg["resourcesVpcConfig"] = vpc_out
        cluster = Cluster(
            account=account,
            region=region,
            name=name,
            version=version,
            role_arn=role_arn,
            created_at=now,
            cluster_id=cluster_id,
            signing_key_pem=generate_signing_key().decode("ascii"),
            ca_cert_pem=generate_cluster_ca(now),
            status="ACTIVE",
            platform_version=catalog.PLATFORM_VERSION,
            tags=dict(tags or {}),
            config=cfg,
            client_request_token=client_request_token,
        )
        self.store.put(CLUSTERS, f"{account}/{region}/{name}", cluster.to_doc())
        self._emit(EksEvent("cluster", "created", account, region, name, cluster))
        return cluster

    def cluster_by_name(self, account: str, region: str, name: str) -> Cluster | None:
        key = f"{account}/{region}/{name}"
        doc = self.store.get(CLUSTERS, key)
        if doc is None:
            return None
        cached = self._parsed.get(key)
        if cached is not None and cached[0] is doc:  # the store replaces the object on every put
            return cached[1]
        cluster = Cluster.from_doc(doc)
        self._parsed[key] = (doc, cluster)
        return cluster

    def get_cluster(self, account: str, region: str, name: str) -> Cluster:
        cluster = self.cluster_by_name(account, region, name)
        if cluster is None:
            raise ResourceNotFoundException(f"No cluster found for name: {name}.", clusterName=name)
        return cluster

    def list_clusters(self, account: str, region: str) -> list[str]:
        return [doc["name"] for _, doc in self.store.scan(CLUSTERS, f"{account}/{region}/")]

    def all_clusters(self) -> list[Cluster]:
        return [Cluster.from_doc(doc) for _, doc in self.store.scan(CLUSTERS)]

    def cluster_by_issuer_id(self, issuer_id: str) -> Cluster | None:
        for _, doc in self.store.scan(CLUSTERS):
            if doc["clusterId"] == issuer_id:
                return Cluster.from_doc(doc)
        return None

    def delete_cluster(self, account: str, region: str, name: str) -> Cluster:
        cluster = self.get_cluster(account, region, name)
        groups = self.list_nodegroups(cluster)
        if groups:
            raise ResourceInUseException("Cluster has nodegroups attached", clusterName=name)
        for addon_name in self.list_addons(cluster):
            self.delete_addon(cluster, addon_name, preserve=False)
        self.associations.delete_all(cluster)
        self.store.delete(CLUSTERS, f"{account}/{region}/{name}")
        self._parsed.pop(f"{account}/{region}/{name}", None)
        self._issuers = {k: v for k, v in self._issuers.items() if k[0] != cluster.cluster_id}
        gone = cluster.with_status("DELETING")
        self._emit(EksEvent("cluster", "deleted", account, region, name, gone))
        return gone

    def issuer_url(self, cluster: Cluster) -> str:
        return cluster.issuer_url(self.issuer_base_url())

    def issuer_for(self, cluster: Cluster) -> TokenIssuer:
        """The cluster's token issuer (cached; the key is loaded once per cluster and base URL)."""
        url = self.issuer_url(cluster)
        key = (cluster.cluster_id, url)
        issuer = self._issuers.get(key)
        if issuer is None:
            issuer = TokenIssuer(cluster.signing_key_pem.encode("ascii"), url)
            self._issuers[key] = issuer
        return issuer

    def set_cluster_tags(self, cluster: Cluster, tags: Mapping[str, str]) -> None:
        updated = replace(cluster, tags=dict(tags))
        self.store.put(CLUSTERS, f"{cluster.account}/{cluster.region}/{cluster.name}", updated.to_doc())

    # --- node groups ---------------------------------------------------------------------------
    def create_nodegroup(
        self,
        cluster: Cluster,
        name: str,
        *,
        node_role: str,
        subnets: Sequence[str],
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Nodegroup:
        if not NODEGROUP_NAME.match(name or ""):
            raise InvalidParameterException(
                "The node group name must start with an alphanumeric character and contain only "
                "alphanumerics, '-' and '_' (1 to 63 characters).",
                clusterName=cluster.name,
                nodegroupName=name,
            )
        if self.nodegroup_by_name(cluster, name) is not None:
            raise ResourceInUseException(
                f"NodeGroup already exists with name {name} and cluster name {cluster.name}",
                clusterName=cluster.name,
                nodegroupName=name,
            )
        parse_role_arn(node_role, "nodeRole", cluster.name)
        validate_tags(tags, InvalidParameterException)
        cfg = {k: v for k, v in (config or {}).items() if v is not None}
        scaling = dict(cfg.get("scalingConfig") or {})
        desired = int(scaling.get("desiredSize", 2))
        low = int(scaling.get("minSize", 1))
        high = int(scaling.get("maxSize", 2))
        if not 0 <= low <= desired <= high or high < 1:
            raise InvalidParameterException(
                f"Invalid scalingConfig: need 0 <= minSize ({low}) <= desiredSize ({desired}) "
                f"<= maxSize ({high}) and maxSize >= 1.",
                clusterName=cluster.name,
                nodegroupName=name,
            )
        cfg["scalingConfig"] = {"minSize": low, "maxSize": high, "desiredSize": desired}
        cfg["subnets"] = list(subnets)
        version = str(cfg.pop("version", None) or cluster.version)
        now = self.clock.now()
        group = Nodegroup(
            account=cluster.account,
            region=cluster.region,
            cluster=cluster.name,
            name=name,
            uid=str(uuid.uuid4()),
            node_role=node_role,
            version=version,
            created_at=now,
            modified_at=now,
            tags=dict(tags or {}),
            config=cfg,
        )
        self.store.put(NODEGROUPS, self._ng_key(cluster, name), group.to_doc())
        self._emit(EksEvent("nodegroup", "created", cluster.account, cluster.region, cluster.name, group))
        return group

    @staticmethod
    def _ng_key(cluster: Cluster, name: str) -> str:
        return f"{cluster.account}/{cluster.region}/{cluster.name}/{name}"

    def nodegroup_by_name(self, cluster: Cluster, name: str) -> Nodegroup | None:
        doc = self.store.get(NODEGROUPS, self._ng_key(cluster, name))
        return Nodegroup.from_doc(doc) if doc is not None else None

    def get_nodegroup(self, cluster: Cluster, name: str) -> Nodegroup:
        group = self.nodegroup_by_name(cluster, name)
        if group is None:
            raise ResourceNotFoundException(
                f"No node group found for name: {name}.", clusterName=cluster.name, nodegroupName=name
            )
        return group

    def list_nodegroups(self, cluster: Cluster) -> list[str]:
        prefix = f"{cluster.account}/{cluster.region}/{cluster.name}/"
        return [doc["name"] for _, doc in self.store.scan(NODEGROUPS, prefix)]

    def delete_nodegroup(self, cluster: Cluster, name: str) -> Nodegroup:
        group = self.get_nodegroup(cluster, name)
        self.store.delete(NODEGROUPS, self._ng_key(cluster, name))
        gone = replace(group, status="DELETING")
        self._emit(EksEvent("nodegroup", "deleted", cluster.account, cluster.region, cluster.name, gone))
        return gone

    def set_nodegroup_tags(self, group: Nodegroup, tags: Mapping[str, str]) -> None:
        key = f"{group.account}/{group.region}/{group.cluster}/{group.name}"
        self.store.put(NODEGROUPS, key, replace(group, tags=dict(tags)).to_doc())

    # --- add-ons -------------------------------------------------------------------------------
    def create_addon(
        self,
        cluster: Cluster,
        name: str,
        *,
        version: str | None = None,
        service_account_role_arn: str | None = None,
        configuration_values: str | None = None,
        pod_identity_associations: Sequence[tuple[str, str]] = (),
        tags: Mapping[str, str] | None = None,
        namespace: str | None = None,
    ) -> Addon:
        """Install an add-on; `pod_identity_associations` are (serviceAccount, roleArn) pairs."""
        spec = catalog.ADDONS.get(name)
        if spec is None:
            raise InvalidParameterException(
                f"Addon {name} specified is not supported in {cluster.version} kubernetes version",
                clusterName=cluster.name,
                addonName=name,
            )
        if self.addon_by_name(cluster, name) is not None:
            raise ResourceInUseException(
                f"Addon already exists: {name}", clusterName=cluster.name, addonName=name
            )
        chosen = version or catalog.default_addon_version(name, cluster.version)
        if chosen is None or not catalog.addon_version_supported(name, chosen, cluster.version):
            raise InvalidParameterException(
                f"Addon version specified is not supported for {name} on Kubernetes {cluster.version}",
                clusterName=cluster.name,
                addonName=name,
            )
        if service_account_role_arn:
            parse_role_arn(service_account_role_arn, "serviceAccountRoleArn", cluster.name)
        if configuration_values:
            try:
                json.loads(configuration_values)
            except (ValueError, RecursionError) as exc:
                raise InvalidParameterException(
                    "configurationValues is not valid JSON.", clusterName=cluster.name, addonName=name
                ) from exc
        validate_tags(tags, InvalidParameterException)
        now = self.clock.now()
        addon = Addon(
            account=cluster.account,
            region=cluster.region,
            cluster=cluster.name,
            name=name,
            uid=str(uuid.uuid4()),
            version=chosen,
            created_at=now,
            modified_at=now,
            service_account_role_arn=service_account_role_arn or None,
            configuration_values=configuration_values or None,
            tags=dict(tags or {}),
            namespace=namespace or None,
        )
        created: list[Association] = []
        try:
            for service_account, role_arn in pod_identity_associations:
                created.append(
                    self.associations.create(
                        cluster,
                        namespace=namespace or spec.namespace,
                        service_account=service_account,
                        role_arn=role_arn,
                        owner_arn=addon.arn,
                    )
                )
        except Exception:
            for assoc in created:
                self.associations.delete(cluster, assoc.association_id, by_owner=True)
            raise
        addon = replace(addon, association_arns=tuple(a.arn for a in created))
        self.store.put(ADDONS, self._addon_key(cluster, name), addon.to_doc())
        self._emit(EksEvent("addon", "created", cluster.account, cluster.region, cluster.name, addon))
        return addon

    @staticmethod
    def _addon_key(cluster: Cluster, name: str) -> str:
        return f"{cluster.account}/{cluster.region}/{cluster.name}/{name}"

    def addon_by_name(self, cluster: Cluster, name: str) -> Addon | None:
        doc = self.store.get(ADDONS, self._addon_key(cluster, name))
        return Addon.from_doc(doc) if doc is not None else None

    def get_addon(self, cluster: Cluster, name: str) -> Addon:
        addon = self.addon_by_name(cluster, name)
        if addon is None:
            raise ResourceNotFoundException(
                f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name
            )
        return addon

    def list_addons(self, cluster: Cluster) -> list[str]:
        prefix = f"{cluster.account}/{cluster.region}/{cluster.name}/"
        return [doc["name"] for _, doc in self.store.scan(ADDONS, prefix)]

    def delete_addon(self, cluster: Cluster, name: str, *, preserve: bool = False) -> Addon:
        """Remove an add-on; its associations go with it unless `preserve` (then they stay, unowned)."""
        addon = self.get_addon(cluster, name)
        for assoc in self.associations.for_cluster(cluster.account, cluster.region, cluster.name):
            if assoc.owner_arn != addon.arn:
                continue
            if preserve:
                self.associations.disown(assoc)
            else:
                self.associations.delete(cluster, assoc.association_id, by_owner=True)
        self.store.delete(ADDONS, self._addon_key(cluster, name))
        gone = replace(addon, status="DELETING")
        self._emit(EksEvent("addon", "deleted", cluster.account, cluster.region, cluster.name, gone))
        return gone

    def set_addon_tags(self, addon: Addon, tags: Mapping[str, str]) -> None:
        key = f"{addon.account}/{addon.region}/{addon.cluster}/{addon.name}"
        self.store.put(ADDONS, key, replace(addon, tags=dict(tags)).to_doc())

    # --- associations (the names other components use) ----------------------------------------
    def associations_for(self, account: str, region: str, cluster: str) -> list[Association]:
        return self.associations.for_cluster(account, region, cluster)

    def find_association(
        self, account: str, region: str, cluster: str, namespace: str, service_account: str
    ) -> Association | None:
        return self.associations.find(account, region, cluster, namespace, service_account)
