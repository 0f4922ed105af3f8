"""The webhook's configuration, with the values EKS runs it with, and the two lookups it needs.

`WebhookConfig` mirrors the flags of amazon-eks-pod-identity-webhook (reference §4.1 and IRSA §3.1).
The defaults are what EKS deploys, not the open-source flag defaults, where they differ:

- `regional_sts` is True: EKS pods show `AWS_STS_REGIONAL_ENDPOINTS=regional` (the open-source
  `--sts-regional-endpoint` flag defaults to false);
- `region` is the cluster's region when a cluster is known (`--aws-default-region`); empty means
  no `AWS_REGION`/`AWS_DEFAULT_REGION` injection, as with the open-source default.

The two lookups are Protocols so that the local runtime can pass objects backed by its in-process
EKS domain and Kubernetes object store (read at admission time: no propagation delay), while the
HTTPS server passes the JSON identities file or the EKS API (see `podid.webhook.identities`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# Token lifetime bounds the webhook applies (`pkg.ValidateMinTokenExpiration`, commit 0d3fed42).
MIN_TOKEN_EXPIRATION = 600
DEFAULT_TOKEN_EXPIRATION = 86400
JITTER_MIN_EXPIRATION = 79200

# Fixed (not flags) in the real webhook's IRSA path (`NewModifier`).
IRSA_VOLUME_NAME = "aws-iam-token"
IRSA_TOKEN_PATH = "token"

POD_IDENTITY_LABEL = "eks.amazonaws.com/pod-identity"


class IdentityLookupError(Exception):
    """The association lookup could not be answered (e.g. the EKS API is unreachable)."""


class IdentitySource(Protocol):
    """Which (namespace, service account) pairs have a Pod Identity association."""

    def has_association(self, namespace: str, service_account: str) -> bool:
        """True when the pair has an association; raise `IdentityLookupError` if unknown."""
        ...


class ServiceAccountSource(Protocol):
    """The ServiceAccount objects of the cluster (for their `eks.amazonaws.com/*` annotations)."""

    def service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ServiceAccount as a Kubernetes JSON object, or None when it does not exist."""
        ...


@dataclass(frozen=True)
class WebhookConfig:
    """Flag values of the webhook. Expirations below 600 s are raised to 600, as the real one does."""

    annotation_prefix: str = "eks.amazonaws.com"
    # Pod Identity ("container credentials") mode: --container-credentials-* flags.
    audience: str = "pods.eks.amazonaws.com"
    mount_path: str = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
    volume_name: str = "eks-pod-identity-token"
    token_path: str = "eks-pod-identity-token"
    full_uri: str = "http://169.254.170.23/v1/credentials"
    # --token-expiration (shared by both modes; jitter applies in Pod Identity mode only).
    token_expiration: int = DEFAULT_TOKEN_EXPIRATION
    # --aws-default-region and --sts-regional-endpoint.
    region: str = ""
    regional_sts: bool = True
    # IRSA mode: --token-audience and --token-mount-path.
    irsa_audience: str = "sts.amazonaws.com"
    irsa_mount_path: str = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
    # The `eks.amazonaws.com/pod-identity: enabled` label (webhook commit b326ac6d, 2026-03-31).
    pod_identity_label: bool = True

    def __post_init__(self) -> None:
        if self.token_expiration < MIN_TOKEN_EXPIRATION:
            object.__setattr__(self, "token_expiration", MIN_TOKEN_EXPIRATION)


class StaticIdentities:
    """A fixed set of (namespace, service account) pairs: for tests and simple embeddings."""

    def __init__(self, pairs: set[tuple[str, str]] | None = None) -> None:
        self._pairs: set[tuple[str, str]] = set(pairs or ())

    def add(self, namespace: str, service_account: str) -> None:
        self._pairs.add((namespace, service_account))

    def discard(self, namespace: str, service_account: str) -> None:
        self._pairs.discard((namespace, service_account))

    def has_association(self, namespace: str, service_account: str) -> bool:
        return (namespace, service_account) in self._pairs


class StaticServiceAccounts:
    """ServiceAccounts held in a dict keyed by (namespace, name): for tests and simple embeddings."""

    def __init__(self, accounts: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self._accounts: dict[tuple[str, str], dict[str, Any]] = dict(accounts or {})

    def put(self, namespace: str, name: str, annotations: dict[str, str] | None = None) -> None:
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = dict(annotations)
        self._accounts[(namespace, name)] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}

    def service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._accounts.get((namespace, name))
