"""EKS domain objects (clusters, node groups, add-ons, Pod Identity associations) and their events.

Each object is an immutable dataclass with `to_doc`/`from_doc` for the store (JSON documents,
timestamps as ISO 8601) and `to_api` for the wire (a dict shaped like the model's output shape;
timestamps as `datetime`, which the rest-json serializer renders as epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

EventKind = Literal["cluster", "nodegroup", "addon", "association"]
EventAction = Literal["created", "updated", "deleted"]


def _ts(value: datetime) -> str:
    return value.isoformat()


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Cluster:
    """One EKS cluster. `config` holds the recorded-as-given settings (VPC, logging, ...)."""

    account: str
    region: str
    name: str
    version: str
    role_arn: str
    created_at: datetime
    cluster_id: str  # 32 upper-case hex: endpoint host label and OIDC issuer id
    signing_key_pem: str
    ca_cert_pem: str
    status: str = "ACTIVE"
    platform_version: str = "eks.1"
    tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    client_request_token: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:eks:{self.region}:{self.account}:cluster/{self.name}"

    @property
    def endpoint(self) -> str:
        """EKS's API server URL form; podid does not serve it (documented)."""
        return f"https://{self.cluster_id}.gr7.{self.region}.eks.amazonaws.com"

    def issuer_url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/oidc/id/{self.cluster_id}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "name": self.name,
            "version": self.version,
            "roleArn": self.role_arn,
            "createdAt": _ts(self.created_at),
            "clusterId": self.cluster_id,
            "signingKeyPem": self.signing_key_pem,
            "caCertPem": self.ca_cert_pem,
            "status": self.status,
            "platformVersion": self.platform_version,
            "tags": dict(self.tags),
            "config": dict(self.config),
            "clientRequestToken": self.client_request_token,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Cluster:
        return cls(
            account=doc["account"],
            region=doc["region"],
            name=doc["name"],
            version=doc["version"],
            role_arn=doc["roleArn"],
            created_at=_parse_ts(doc["createdAt"]),
            cluster_id=doc["clusterId"],
            signing_key_pem=doc["signingKeyPem"],
            ca_cert_pem=doc["caCertPem"],
            status=doc.get("status", "ACTIVE"),
            platform_version=doc.get("platformVersion", "eks.1"),
            tags=dict(doc.get("tags") or {}),
            config=dict(doc.get("config") or {}),
            client_request_token=doc.get("clientRequestToken"),
        )

    def with_status(self, status: str) -> Cluster:
        return replace(self, status=status)


@dataclass(frozen=True)
class Nodegroup:
    account: str
    region: str
    cluster: str
    name: str
    uid: str  # the uuid in the ARN
    node_role: str
    version: str
    created_at: datetime
    modified_at: datetime
    status: str = "ACTIVE"
    tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:eks:{self.region}:{self.account}:nodegroup/{self.cluster}/{self.name}/{self.uid}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "cluster": self.cluster,
            "name": self.name,
            "uid": self.uid,
            "nodeRole": self.node_role,
            "version": self.version,
            "createdAt": _ts(self.created_at),
            "modifiedAt": _ts(self.modified_at),
            "status": self.status,
            "tags": dict(self.tags),
            "config": dict(self.config),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Nodegroup:
        return cls(
            account=doc["account"],
            region=doc["region"],
            cluster=doc["cluster"],
            name=doc["name"],
            uid=doc["uid"],
            node_role=doc["nodeRole"],
            version=doc["version"],
            created_at=_parse_ts(doc["createdAt"]),
            modified_at=_parse_ts(doc["modifiedAt"]),
            status=doc.get("status", "ACTIVE"),
            tags=dict(doc.get("tags") or {}),
            config=dict(doc.get("config") or {}),
        )


@dataclass(frozen=True)
class Addon:
    account: str
    region: str
    cluster: str
    name: str
    uid: str
    version: str
    created_at: datetime
    modified_at: datetime
    status: str = "ACTIVE"
    service_account_role_arn: str | None = None
    configuration_values: str | None = None
    association_arns: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:eks:{self.region}:{self.account}:addon/{self.cluster}/{self.name}/{self.uid}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "cluster": self.cluster,
            "name": self.name,
            "uid": self.uid,
            "version": self.version,
            "createdAt": _ts(self.created_at),
            "modifiedAt": _ts(self.modified_at),
            "status": self.status,
            "serviceAccountRoleArn": self.service_account_role_arn,
            "configurationValues": self.configuration_values,
            "associationArns": list(self.association_arns),
            "tags": dict(self.tags),
            "namespace": self.namespace,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Addon:
        return cls(
            account=doc["account"],
            region=doc["region"],
            cluster=doc["cluster"],
            name=doc["name"],
            uid=doc["uid"],
            version=doc["version"],
            created_at=_parse_ts(doc["createdAt"]),
            modified_at=_parse_ts(doc["modifiedAt"]),
            status=doc.get("status", "ACTIVE"),
            service_account_role_arn=doc.get("serviceAccountRoleArn"),
            configuration_values=doc.get("configurationValues"),
            association_arns=tuple(doc.get("associationArns") or ()),
            tags=dict(doc.get("tags") or {}),
            namespace=doc.get("namespace"),
        )


@dataclass(frozen=True)
class Association:
    """One Pod Identity association `(cluster, namespace, serviceAccount) -> role`."""

    account: str
    region: str
    cluster: str
    association_id: str
    namespace: str
    service_account: str
    role_arn: str
    created_at: datetime
    modified_at: datetime
    disable_session_tags: bool = False
    target_role_arn: str | None = None
    policy: str | None = None
    owner_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    client_request_token: str | None = None
    request_fingerprint: str | None = None

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:eks:{self.region}:{self.account}:podidentityassociation/"
            f"{self.cluster}/{self.association_id}"
        )

    @property
    def external_id(self) -> str | None:
        """`{region}/{account}/{cluster}/{namespace}/{serviceAccount}`, only with a target role."""
        if not self.target_role_arn:
            return None
        return f"{self.region}/{self.account}/{self.cluster}/{self.namespace}/{self.service_account}"

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clusterName": self.cluster,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "roleArn": self.role_arn,
            "associationArn": self.arn,
            "associationId": self.association_id,
            "tags": dict(self.tags),
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "disableSessionTags": self.disable_session_tags,
        }
        if self.owner_arn:
            out["ownerArn"] = self.owner_arn
        if self.target_role_arn:
            out["targetRoleArn"] = self.target_role_arn
            out["externalId"] = self.external_id
        if self.policy:
            out["policy"] = self.policy
        return out

    def to_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clusterName": self.cluster,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "associationArn": self.arn,
            "associationId": self.association_id,
        }
        if self.owner_arn:
            out["ownerArn"] = self.owner_arn
        return out

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "cluster": self.cluster,
            "associationId": self.association_id,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "roleArn": self.role_arn,
            "createdAt": _ts(self.created_at),
            "modifiedAt": _ts(self.modified_at),
            "disableSessionTags": self.disable_session_tags,
            "targetRoleArn": self.target_role_arn,
            "policy": self.policy,
            "ownerArn": self.owner_arn,
            "tags": dict(self.tags),
            "clientRequestToken": self.client_request_token,
            "requestFingerprint": self.request_fingerprint,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Association:
        return cls(
            account=doc["account"],
            region=doc["region"],
            cluster=doc["cluster"],
            association_id=doc["associationId"],
            namespace=doc["namespace"],
            service_account=doc["serviceAccount"],
            role_arn=doc["roleArn"],
            created_at=_parse_ts(doc["createdAt"]),
            modified_at=_parse_ts(doc["modifiedAt"]),
            disable_session_tags=bool(doc.get("disableSessionTags")),
            target_role_arn=doc.get("targetRoleArn"),
            policy=doc.get("policy"),
            owner_arn=doc.get("ownerArn"),
            tags=dict(doc.get("tags") or {}),
            client_request_token=doc.get("clientRequestToken"),
            request_fingerprint=doc.get("requestFingerprint"),
        )


@dataclass(frozen=True)
class EksEvent:
    """A change the local cluster runtime (and the webhook) may react to.

    `obj` is the object after the change (before it, for `deleted`).
    """

    kind: EventKind
    action: EventAction
    account: str
    region: str
    cluster: str
    obj: Cluster | Nodegroup | Addon | Association
