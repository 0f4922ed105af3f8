"""Managed policies: customer managed policies with versions, and read access to AWS managed ones.

AWS managed policies (`arn:aws:iam::aws:policy/...`) come from the shipped catalog with only their
default version's document (the source data has no history), so `GetPolicyVersion` answers for the
default version id only. Their `PolicyId` is derived from the ARN (stable across restarts) since
the source does not carry AWS's ids.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from podid.errors import AccessDenied
from podid.services.iam.common import (
    MANAGED_POLICY_MAX,
    IamCore,
    check_entity,
    check_tags,
    parse_policy_arn,
    policy_chars,
    validate_document,
)
from podid.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from podid.services.iam.ids import unique_id
from podid.services.iam.managed import AwsManagedPolicy
from podid.services.iam.model import (
    POLICIES,
    ROLES,
    USERS,
    CustomerPolicy,
    PolicyVersion,
    Role,
    Tags,
    User,
    entity_key,
)
from podid.services.iam.paging import paginate

VERSIONS_PER_POLICY = 5


@dataclass(frozen=True)
class PolicyView:
    """A managed policy as GetPolicy/ListPolicies describe it (AWS or customer managed)."""

    arn: str
    name: str
    path: str
    policy_id: str
    default_version_id: str
    create_date: datetime
    update_date: datetime
    attachment_count: int
    boundary_usage_count: int
    description: str | None = None
    tags: Tags = ()


@cache  # a pure function of an immutable catalog entry
def _aws_policy_id(arn: str) -> str:
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return "ANPA" + digest[:17]


class PolicyOps(IamCore):
    def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        *,
        path: str = "/",
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> CustomerPolicy:
        check_entity(name, "policyName", 128, path)
        if self.find_customer_policy(account, name) is not None:
            raise EntityAlreadyExists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            )
        self._check_managed_document(document)
        merged = check_tags(tags)
        now = self.clock.now()
        policy = CustomerPolicy(
            account=account,
            name=name,
            path=path,
            policy_id=unique_id("ANPA"),
            create_date=now,
            update_date=now,
            default_version_id="v1",
            versions=(PolicyVersion("v1", document, now),),
            next_version=2,
            description=description,
            tags=merged,
        )
        self.save_policy(policy)
        return policy

    def _check_managed_document(self, document: str) -> None:
        validate_document(document, "identity")
        if policy_chars(document) > MANAGED_POLICY_MAX:
            raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX}")

    def _own_policy(self, account: str, arn: str) -> CustomerPolicy:
        parsed = parse_policy_arn(arn)
        if parsed.owner == "aws" or parsed.owner != account:
            raise AccessDenied("Cannot modify policies outside your own account.")
        policy = self.customer_policy_by_arn(arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        return policy

    def _aws_view(self, account: str, aws: AwsManagedPolicy) -> PolicyView:
        return PolicyView(
            arn=aws.arn,
            name=aws.name,
            path=aws.path,
            policy_id=_aws_policy_id(aws.arn),
            default_version_id=aws.default_version_id,
            create_date=aws.create_date,
            update_date=aws.update_date,
            attachment_count=self.attachment_count(account, aws.arn),
            boundary_usage_count=self.boundary_usage_count(account, aws.arn),
        )

    def _customer_view(self, policy: CustomerPolicy) -> PolicyView:
        return PolicyView(
            arn=policy.arn,
            name=policy.name,
            path=policy.path,
            policy_id=policy.policy_id,
            default_version_id=policy.default_version_id,
            create_date=policy.create_date,
            update_date=policy.update_date,
            attachment_count=self.attachment_count(policy.account, policy.arn),
            boundary_usage_count=self.boundary_usage_count(policy.account, policy.arn),
            description=policy.description,
            tags=policy.tags,
        )

    def get_policy(self, account: str, arn: str) -> PolicyView:
        parsed = parse_policy_arn(arn)
        if parsed.owner == "aws":
            aws = self.catalog.get(arn)
            if aws is not None:
                return self._aws_view(account, aws)
        else:
            policy = self.customer_policy_by_arn(arn)
            if policy is not None:
                return self._customer_view(policy)
        raise NoSuchEntity(f"Policy {arn} was not found.")

    def delete_policy(self, account: str, arn: str) -> None:
        parsed = parse_policy_arn(arn)
        if parsed.owner == "aws" or parsed.owner != account:
            raise AccessDenied("Cannot delete policies outside your own account.")
        policy = self._own_policy(account, arn)
        if self.attachment_count(account, arn) or self.boundary_usage_count(account, arn):
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        if len(policy.versions) > 1:
            raise DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the "
                "policy's versions. The default version is deleted with the policy."
            )
        self.store.delete(POLICIES, entity_key(account, policy.name))

    # versions
    def create_policy_version(
        self, account: str, arn: str, document: str, set_as_default: bool
    ) -> PolicyVersion:
        policy = self._own_policy(account, arn)
        if len(policy.versions) >= VERSIONS_PER_POLICY:
            raise LimitExceeded(
                f"A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create a new "
                "version, you must delete an existing version."
            )
        self._check_managed_document(document)
        now = self.clock.now()
        version = PolicyVersion(f"v{policy.next_version}", document, now)
        updated = policy.evolve(
            versions=(*policy.versions, version), next_version=policy.next_version + 1, update_date=now
        )
        if set_as_default:
            updated = updated.evolve(default_version_id=version.version_id)
        self.save_policy(updated)
        return version

    def get_policy_version(self, account: str, arn: str, version_id: str) -> tuple[PolicyVersion, bool]:
        """The version and whether it is the default one."""
        parsed = parse_policy_arn(arn)
        missing = NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        if parsed.owner == "aws":
            aws = self.catalog.get(arn)
            if aws is None or aws.default_version_id != version_id:
                raise missing
            return PolicyVersion(version_id, aws.document, aws.update_date), True
        policy = self.customer_policy_by_arn(arn)
        version = policy.version(version_id) if policy else None
        if policy is None or version is None:
            raise missing
        return version, version_id == policy.default_version_id

    def list_policy_versions(self, account: str, arn: str) -> list[tuple[PolicyVersion, bool]]:
        parsed = parse_policy_arn(arn)
        if parsed.owner == "aws":
            aws = self.catalog.get(arn)
            if aws is None:
                raise NoSuchEntity(f"Policy {arn} was not found.")
            return [(PolicyVersion(aws.default_version_id, aws.document, aws.update_date), True)]
        policy = self.customer_policy_by_arn(arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        newest_first = sorted(policy.versions, key=lambda v: int(v.version_id[1:]), reverse=True)
        return [(v, v.version_id == policy.default_version_id) for v in newest_first]

    def set_default_policy_version(self, account: str, arn: str, version_id: str) -> None:
        policy = self._own_policy(account, arn)
        if policy.version(version_id) is None:
            raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        self.save_policy(policy.evolve(default_version_id=version_id, update_date=self.clock.now()))

    def delete_policy_version(self, account: str, arn: str, version_id: str) -> None:
        policy = self._own_policy(account, arn)
        if policy.version(version_id) is None:
            raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        if version_id == policy.default_version_id:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        self.save_policy(
            policy.evolve(versions=tuple(v for v in policy.versions if v.version_id != version_id))
        )

    # listing
    def list_policies(
        self,
        account: str,
        *,
        scope: str = "All",
        only_attached: bool = False,
        path_prefix: str | None = None,
        usage_filter: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> tuple[list[PolicyView], str | None]:
        prefix = path_prefix or "/"
        attached: dict[str, int] = {}
        boundaries: dict[str, int] = {}
        for table in (ROLES, USERS):
            for _, doc in self.store.scan(table, f"{account}/"):
                for arn in doc.get("attached") or ():
                    attached[arn] = attached.get(arn, 0) + 1
                if doc.get("boundary"):
                    boundaries[doc["boundary"]] = boundaries.get(doc["boundary"], 0) + 1
        views: list[PolicyView] = []
        if scope in ("All", "AWS"):
            for aws in self.catalog:
                if aws.path.startswith(prefix) and (not only_attached or aws.arn in attached):
                    views.append(
                        PolicyView(
                            aws.arn,
                            aws.name,
                            aws.path,
                            _aws_policy_id(aws.arn),
                            aws.default_version_id,
                            aws.create_date,
                            aws.update_date,
                            attached.get(aws.arn, 0),
                            boundaries.get(aws.arn, 0),
                        )
                    )
        if scope in ("All", "Local"):
            for _, doc in self.store.scan(POLICIES, f"{account}/"):
                policy = CustomerPolicy.from_doc(doc)
                if policy.path.startswith(prefix) and (not only_attached or policy.arn in attached):
                    views.append(self._customer_view(policy))
        if usage_filter == "PermissionsPolicy":
            views = [v for v in views if v.attachment_count or not only_attached]
        elif usage_filter == "PermissionsBoundary":
            views = [v for v in views if v.boundary_usage_count]
        return paginate(views, lambda v: f"{v.name.lower()}\x00{v.arn}", marker, max_items)

    def list_entities_for_policy(
        self, account: str, arn: str, entity_filter: str | None, path_prefix: str | None
    ) -> tuple[list[Role], list[User]]:
        self.get_policy(account, arn)
        prefix = path_prefix or "/"
        roles: list[Role] = []
        users: list[User] = []
        if entity_filter in (None, "Role", "LocalManagedPolicy", "AWSManagedPolicy"):
            roles = [
                Role.from_doc(d)
                for _, d in self.store.scan(ROLES, f"{account}/")
                if arn in (d.get("attached") or ()) and d["path"].startswith(prefix)
            ]
        if entity_filter in (None, "User", "LocalManagedPolicy", "AWSManagedPolicy"):
            users = [
                User.from_doc(d)
                for _, d in self.store.scan(USERS, f"{account}/")
                if arn in (d.get("attached") or ()) and d["path"].startswith(prefix)
            ]
        return roles, users
