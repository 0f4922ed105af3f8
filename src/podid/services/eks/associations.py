"""Pod Identity associations: the rules of Create/Describe/Update/Delete/List (reference §2.2, §6).

Choices where AWS's behaviour is not documented (each tested, and listed in docs/services-eks.md):
- A duplicate (cluster, namespace, serviceAccount) is `ResourceInUseException` 409
  `Association already exists: <associationId>` (AWS redacts the detail; the id is the useful part).
- The role must exist (`InvalidParameterException: Role provided in the request does not exist.`)
  and be in the cluster's account (`InvalidParameterException`, message naming both accounts).
  `targetRoleArn` is only checked for form: it may live in any account, EKS cannot see it.
- `policy` requires `disableSessionTags: true` (`InvalidParameterException` mentioning
  PackedPolicyTooLarge, as the AWS blog describes), is at most 2,048 characters and must parse as an
  IAM session policy; a bad one is `InvalidParameterException` with the parser's message.
- `clientRequestToken`: the same token with the same parameters returns the association created by
  the first call; the same token with different parameters is `InvalidRequestException`
  (EKS's model has no IdempotentParameterMismatch). The token is forgotten with its association.
- Update must name at least one of roleArn, targetRoleArn, disableSessionTags, policy
  (`InvalidParameterException` otherwise); `targetRoleArn: ""` and `policy: ""` clear the field.
- An association owned by an add-on (`ownerArn`) cannot be updated or deleted directly
  (`InvalidRequestException`); deleting the add-on deletes it unless `preserve`.
- 5,000 associations per cluster (the current guide); the 5,001st is `ResourceLimitExceededException`.
- `nextToken` is opaque (base64 of the last association id returned); a malformed one is
  `InvalidParameterException`.
- namespace must be a Kubernetes DNS-1123 label and serviceAccount a DNS-1123 subdomain, since no
  other value could ever match a pod (`InvalidParameterException` otherwise).

The in-memory index gives the webhook and EKS Auth read-your-writes lookups by
(account, region, cluster, namespace, serviceAccount) in O(1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from podid.clock import Clock
from podid.errors import AwsError
from podid.services.eks.errors import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceLimitExceededException,
    ResourceNotFoundException,
)
from podid.services.eks.model import Association, Cluster, EksEvent
from podid.services.eks.validation import RoleLookup, parse_role_arn, validate_tags
from podid.store import Store

TABLE = "eks.associations"
MAX_PER_CLUSTER = 5000
MAX_POLICY_CHARS = 2048
DEFAULT_PAGE = 100
_ID_ALPHABET = string.ascii_lowercase + string.digits
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

PolicyValidator = Callable[[str], None]
IdentityKey = tuple[str, str, str, str, str]  # account, region, cluster, namespace, serviceAccount


def new_association_id() -> str:
    return "a-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def _key(account: str, region: str, cluster: str, association_id: str) -> str:
    return f"{account}/{region}/{cluster}/{association_id}"


def _fingerprint(values: Mapping[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class AssociationBook:
    """All associations of all clusters, persisted in `eks.associations`, indexed in memory."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        iam: RoleLookup,
        validate_policy: PolicyValidator,
        emit: Callable[[EksEvent], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._iam = iam
        self._validate_policy = validate_policy
        self._emit = emit
        self._by_identity: dict[IdentityKey, Association] = {}
        self._by_id: dict[tuple[str, str, str, str], Association] = {}
        self._by_token: dict[tuple[str, str, str, str], Association] = {}
        for _, doc in store.scan(TABLE):
            self._index(Association.from_doc(doc))

    # --- index ---------------------------------------------------------------------------------
    def _index(self, assoc: Association) -> None:
        self._by_identity[
            (assoc.account, assoc.region, assoc.cluster, assoc.namespace, assoc.service_account)
        ] = assoc
        self._by_id[(assoc.account, assoc.region, assoc.cluster, assoc.association_id)] = assoc
        if assoc.client_request_token:
            self._by_token[(assoc.account, assoc.region, assoc.cluster, assoc.client_request_token)] = assoc

    def _unindex(self, assoc: Association) -> None:
        self._by_identity.pop(
            (assoc.account, assoc.region, assoc.cluster, assoc.namespace, assoc.service_account), None
        )
        self._by_id.pop((assoc.account, assoc.region, assoc.cluster, assoc.association_id), None)
        if assoc.client_request_token:
            self._by_token.pop((assoc.account, assoc.region, assoc.cluster, assoc.client_request_token), None)

    def _save(self, assoc: Association) -> None:
        self._store.put(
            TABLE, _key(assoc.account, assoc.region, assoc.cluster, assoc.association_id), assoc.to_doc()
        )
        self._index(assoc)

    # --- reads ---------------------------------------------------------------------------------
    def find(
        self, account: str, region: str, cluster: str, namespace: str, service_account: str
    ) -> Association | None:
        return self._by_identity.get((account, region, cluster, namespace, service_account))

    def for_cluster(self, account: str, region: str, cluster: str) -> list[Association]:
        found = [a for k, a in self._by_id.items() if k[:3] == (account, region, cluster)]
        return sorted(found, key=lambda a: a.association_id)

    def get(self, cluster: Cluster, association_id: str) -> Association:
        found = self._by_id.get((cluster.account, cluster.region, cluster.name, association_id))
        if found is None:
            raise ResourceNotFoundException(
                f"No Pod Identity Association found with id: {association_id} in cluster: {cluster.name}",
                clusterName=cluster.name,
            )
        return found

    def by_arn(self, arn: str) -> Association | None:
        for assoc in self._by_id.values():
            if assoc.arn == arn:
                return assoc
        return None

    def list(
        self,
        cluster: Cluster,
        *,
        namespace: str | None = None,
        service_account: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[Association], str | None]:
        """One page of the cluster's associations (id order) and the token of the next page."""
        limit = DEFAULT_PAGE if max_results is None else max_results
        if not 1 <= limit <= 100:
            raise InvalidParameterException("maxResults must be between 1 and 100.", clusterName=cluster.name)
        after = _decode_token(next_token, cluster.name) if next_token else None
        items = [
            a
            for a in self.for_cluster(cluster.account, cluster.region, cluster.name)
            if (namespace is None or a.namespace == namespace)
            and (service_account is None or a.service_account == service_account)
            and (after is None or a.association_id > after)
        ]
        page = items[:limit]
        token = _encode_token(page[-1].association_id) if len(items) > limit else None
        return page, token

    # --- writes --------------------------------------------------------------------------------
    def create(
        self,
        cluster: Cluster,
        *,
        namespace: str,
        service_account: str,
        role_arn: str,
        target_role_arn: str | None = None,
        disable_session_tags: bool | None = None,
        policy: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
        owner_arn: str | None = None,
    ) -> Association:
        fingerprint = _fingerprint(
            {
                "namespace": namespace,
                "serviceAccount": service_account,
                "roleArn": role_arn,
                "targetRoleArn": target_role_arn,
                "disableSessionTags": disable_session_tags,
                "policy": policy,
                "tags": dict(tags or {}),
            }
        )
        if client_request_token:
            earlier = self._by_token.get(
                (cluster.account, cluster.region, cluster.name, client_request_token)
            )
            if earlier is not None:
                if earlier.request_fingerprint == fingerprint:
                    return earlier
                raise InvalidRequestException(
                    "The clientRequestToken was already used with different request parameters.",
                    clusterName=cluster.name,
                )
        _check_identity(cluster, namespace, service_account)
        self._check_role(cluster, role_arn)
        target = target_role_arn or None
        if target is not None:
            parse_role_arn(target, "targetRoleArn", cluster.name)
        disable = bool(disable_session_tags)
        self._check_policy(cluster, policy or None, disable)
        validate_tags(tags, InvalidParameterException)
        existing_one = self.find(cluster.account, cluster.region, cluster.name, namespace, service_account)
        if existing_one is not None:
            raise ResourceInUseException(
                f"Association already exists: {existing_one.association_id}", clusterName=cluster.name
            )
        if self._store.count(TABLE, f"{cluster.account}/{cluster.region}/{cluster.name}/") >= MAX_PER_CLUSTER:
            raise ResourceLimitExceededException(
                f"Cluster {cluster.name} already has the maximum of {MAX_PER_CLUSTER} "
                "Pod Identity associations.",
                clusterName=cluster.name,
            )
        now = self._clock.now()
        assoc = Association(
            account=cluster.account,
            region=cluster.region,
            cluster=cluster.name,
            association_id=new_association_id(),
            namespace=namespace,
            service_account=service_account,
            role_arn=role_arn,
            created_at=now,
            modified_at=now,
            disable_session_tags=disable,
            target_role_arn=target,
            policy=policy or None,
            owner_arn=owner_arn,
            tags=dict(tags or {}),
            client_request_token=client_request_token or None,
            request_fingerprint=fingerprint,
        )
        self._save(assoc)
        self._emit(EksEvent("association", "created", cluster.account, cluster.region, cluster.name, assoc))
        return assoc

    def update(
        self,
        cluster: Cluster,
        association_id: str,
        *,
        role_arn: str | None = None,
        target_role_arn: str | None = None,
        disable_session_tags: bool | None = None,
        policy: str | None = None,
    ) -> Association:
        assoc = self.get(cluster, association_id)
        if role_arn is None and target_role_arn is None and disable_session_tags is None and policy is None:
            raise InvalidParameterException(
                "At least one of roleArn, targetRoleArn, disableSessionTags or policy must be specified.",
                clusterName=cluster.name,
            )
        if assoc.owner_arn:
            raise InvalidRequestException(
                f"Pod Identity Association {association_id} is owned by {assoc.owner_arn}; "
                "update it through the add-on.",
                clusterName=cluster.name,
            )
        new_role = assoc.role_arn if role_arn is None else role_arn
        if role_arn is not None:
            self._check_role(cluster, role_arn)
        new_target = assoc.target_role_arn if target_role_arn is None else (target_role_arn or None)
        if new_target is not None and target_role_arn:
            parse_role_arn(new_target, "targetRoleArn", cluster.name)
        new_disable = assoc.disable_session_tags if disable_session_tags is None else disable_session_tags
        new_policy = assoc.policy if policy is None else (policy or None)
        self._check_policy(cluster, new_policy, new_disable)
        updated = replace(
            assoc,
            role_arn=new_role,
            target_role_arn=new_target,
            disable_session_tags=new_disable,
            policy=new_policy,
            modified_at=self._clock.now(),
        )
        self._save(updated)
        self._emit(EksEvent("association", "updated", cluster.account, cluster.region, cluster.name, updated))
        return updated

    def delete(self, cluster: Cluster, association_id: str, *, by_owner: bool = False) -> Association:
        assoc = self.get(cluster, association_id)
        if assoc.owner_arn and not by_owner:
            raise InvalidRequestException(
                f"Pod Identity Association {association_id} is owned by {assoc.owner_arn}; "
                "delete the add-on or remove the association from it.",
                clusterName=cluster.name,
            )
        self._remove(assoc)
        return assoc

    def delete_all(self, cluster: Cluster) -> None:
        for assoc in self.for_cluster(cluster.account, cluster.region, cluster.name):
            self._remove(assoc)

    def disown(self, assoc: Association) -> Association:
        """Keep an add-on's association after the add-on is deleted with `preserve`."""
        updated = replace(assoc, owner_arn=None, modified_at=self._clock.now())
        self._save(updated)
        self._emit(EksEvent("association", "updated", assoc.account, assoc.region, assoc.cluster, updated))
        return updated

    def set_tags(self, assoc: Association, tags: Mapping[str, str]) -> Association:
        updated = replace(assoc, tags=dict(tags))
        self._save(updated)
        return updated

    def _remove(self, assoc: Association) -> None:
        self._store.delete(TABLE, _key(assoc.account, assoc.region, assoc.cluster, assoc.association_id))
        self._unindex(assoc)
        self._emit(EksEvent("association", "deleted", assoc.account, assoc.region, assoc.cluster, assoc))

    # --- checks --------------------------------------------------------------------------------
    def _check_role(self, cluster: Cluster, role_arn: str) -> None:
        account = parse_role_arn(role_arn, "roleArn", cluster.name)
        if account != cluster.account:
            raise InvalidParameterException(
                f"Role provided in the request belongs to account {account}, but the cluster "
                f"{cluster.name} is in account {cluster.account}; use a targetRoleArn for "
                "cross-account access.",
                clusterName=cluster.name,
            )
        if self._iam.role_from_arn(role_arn) is None:
            raise InvalidParameterException(
                "Role provided in the request does not exist.", clusterName=cluster.name
            )

    def _check_policy(self, cluster: Cluster, policy: str | None, disable_session_tags: bool) -> None:
        if policy is None:
            return
        if not disable_session_tags:
            raise InvalidParameterException(
                "A session policy requires disableSessionTags to be true: a session policy together "
                "with the six session tags would exceed the packed policy size (PackedPolicyTooLarge).",
                clusterName=cluster.name,
            )
        if len(policy) > MAX_POLICY_CHARS:
            raise InvalidParameterException(
                f"The policy is {len(policy)} characters long; at most {MAX_POLICY_CHARS} are allowed.",
                clusterName=cluster.name,
            )
        try:
            self._validate_policy(policy)
        except (AwsError, ValueError) as exc:  # MalformedPolicyDocument, PolicySizeExceeded
            message = getattr(exc, "message", None) or str(exc)
            raise InvalidParameterException(
                f"The policy is not a valid IAM policy: {message}", clusterName=cluster.name
            ) from exc


def _check_identity(cluster: Cluster, namespace: str, service_account: str) -> None:
    if not namespace or len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise InvalidParameterException(
            f"Invalid namespace {namespace!r}: it must be a valid Kubernetes namespace name "
            "(lower-case alphanumerics and '-', at most 63 characters).",
            clusterName=cluster.name,
        )
    if not service_account or len(service_account) > 253 or not _DNS_SUBDOMAIN.match(service_account):
        raise InvalidParameterException(
            f"Invalid serviceAccount {service_account!r}: it must be a valid Kubernetes service account "
            "name (lower-case alphanumerics, '-' and '.', at most 253 characters).",
            clusterName=cluster.name,
        )


def _encode_token(after_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode()


def _decode_token(token: str, cluster_name: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = data["after"]
        if not isinstance(after, str):
            raise TypeError(after)
        return after
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidParameterException("The nextToken is not valid.", clusterName=cluster_name) from exc


def summaries(items: Iterable[Association]) -> list[dict[str, Any]]:
    return [a.to_summary() for a in items]
