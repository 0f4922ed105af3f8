"""IAM roles: create/get/list/update/delete, trust policy, tags, boundary, attached and inline policies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from podid.services.iam.common import (
    ATTACHED_PER_ENTITY,
    ROLE_INLINE_MAX,
    TRUST_POLICY_MAX,
    IamCore,
    check_entity,
    check_max_session_duration,
    check_tags,
    policy_chars,
    validate_document,
)
from podid.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from podid.services.iam.ids import unique_id
from podid.services.iam.model import ROLES, Role, entity_key
from podid.services.iam.paging import paginate

_ROLE_ARN_PREFIX = "arn:aws:iam::"


class RoleOps(IamCore):
    def create_role(
        self,
        account: str,
        name: str,
        trust_policy: str,
        *,
        path: str = "/",
        description: str | None = None,
        max_session_duration: int | None = None,
        boundary_arn: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> Role:
        check_entity(name, "roleName", 64, path)
        if max_session_duration is not None:
            check_max_session_duration(max_session_duration)
        if self.find_role(account, name) is not None:
            raise EntityAlreadyExists(f"Role with name {name} already exists.")
        self._check_trust(trust_policy)
        merged = check_tags(tags)
        if boundary_arn is not None:
            self.boundary_policy(account, boundary_arn)
        role = Role(
            account=account,
            name=name,
            path=path,
            role_id=unique_id("AROA"),
            create_date=self.clock.now(),
            trust_policy=trust_policy,
            max_session_duration=max_session_duration or 3600,
            description=description,
            boundary_arn=boundary_arn,
            tags=merged,
        )
        self.save_role(role)
        return role

    def _check_trust(self, document: str) -> None:
        validate_document(document, "trust")
        if policy_chars(document) > TRUST_POLICY_MAX:
            raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX}")

    def note_role_used(self, role: Role, when: datetime, region: str) -> None:
        """Record `RoleLastUsed` (AWS tracks it with a delay too): at most one write per role and hour."""
        last = role.last_used
        if last is None or when - last >= timedelta(hours=1) or role.last_used_region != region:
            self.save_role(role.evolve(last_used=when, last_used_region=region))

    def role_from_arn(self, arn: str) -> Role | None:
        """The role an ARN (with its path) names, or None; the path must match as well."""
        if not arn.startswith(_ROLE_ARN_PREFIX):
            return None
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("role/"):
            return None
        account, rest = parts[4], parts[5][len("role") :]
        name = rest.rsplit("/", 1)[-1]
        role = self.find_role(account, name)
        if role is None or role.arn != arn:
            return None
        return role

    def list_roles(
        self, account: str, path_prefix: str | None, marker: str | None, max_items: int | None
    ) -> tuple[list[Role], str | None]:
        roles = [
            Role.from_doc(doc)
            for _, doc in self.store.scan(ROLES, f"{account}/")
            if doc["path"].startswith(path_prefix or "/")
        ]
        return paginate(roles, lambda r: r.name.lower(), marker, max_items)

    def delete_role(self, account: str, name: str) -> None:
        role = self.get_role(account, name)
        if role.attached:
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        if role.inline:
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        self.store.delete(ROLES, entity_key(account, name))

    def update_role(
        self,
        account: str,
        name: str,
        *,
        description: str | None = None,
        max_session_duration: int | None = None,
    ) -> Role:
        role = self.get_role(account, name)
        if description is not None:
            role = role.evolve(description=description)
        if max_session_duration is not None:
            check_max_session_duration(max_session_duration)
            role = role.evolve(max_session_duration=max_session_duration)
        self.save_role(role)
        return role

    def update_assume_role_policy(self, account: str, name: str, document: str) -> None:
        role = self.get_role(account, name)
        self._check_trust(document)
        self.save_role(role.evolve(trust_policy=document))

    # tags
    def tag_role(self, account: str, name: str, tags: Sequence[tuple[str, str]]) -> None:
        role = self.get_role(account, name)
        self.save_role(role.evolve(tags=check_tags(tags, role.tags)))

    def untag_role(self, account: str, name: str, keys: Sequence[str]) -> None:
        role = self.get_role(account, name)
        drop = {k.lower() for k in keys}
        self.save_role(role.evolve(tags=tuple((k, v) for k, v in role.tags if k.lower() not in drop)))

    # permissions boundary
    def put_role_permissions_boundary(self, account: str, name: str, arn: str) -> None:
        role = self.get_role(account, name)
        self.boundary_policy(account, arn)
        self.save_role(role.evolve(boundary_arn=arn))

    def delete_role_permissions_boundary(self, account: str, name: str) -> None:
        role = self.get_role(account, name)
        self.save_role(role.evolve(boundary_arn=None))

    # managed policies
    def attach_role_policy(self, account: str, name: str, arn: str) -> None:
        role = self.get_role(account, name)
        self.attachable_policy(account, arn)
        if arn in role.attached:
            return
        if len(role.attached) >= ATTACHED_PER_ENTITY:
            raise LimitExceeded(f"Cannot exceed quota for PoliciesPerRole: {ATTACHED_PER_ENTITY}")
        self.save_role(role.evolve(attached=(*role.attached, arn)))

    def detach_role_policy(self, account: str, name: str, arn: str) -> None:
        role = self.get_role(account, name)
        if arn not in role.attached:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        self.save_role(role.evolve(attached=tuple(a for a in role.attached if a != arn)))

    # inline policies
    def put_role_policy(self, account: str, name: str, policy_name: str, document: str) -> None:
        role = self.get_role(account, name)
        validate_document(document, "identity")
        inline = {k: v for k, v in role.inline.items() if k.lower() != policy_name.lower()}
        inline[policy_name] = document
        if sum(policy_chars(d) for d in inline.values()) > ROLE_INLINE_MAX:
            raise LimitExceeded(
                f"Maximum policy size of {ROLE_INLINE_MAX} bytes exceeded for role {role.name}"
            )
        self.save_role(role.evolve(inline=inline))

    def get_role_policy(self, account: str, name: str, policy_name: str) -> tuple[Role, str, str]:
        role = self.get_role(account, name)
        for key, document in role.inline.items():
            if key.lower() == policy_name.lower():
                return role, key, document
        raise NoSuchEntity(f"The role policy with name {policy_name} cannot be found.")

    def delete_role_policy(self, account: str, name: str, policy_name: str) -> None:
        role, key, _ = self.get_role_policy(account, name, policy_name)
        self.save_role(role.evolve(inline={k: v for k, v in role.inline.items() if k != key}))
