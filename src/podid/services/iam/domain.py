"""`IamDomain`: the IAM service's domain API over the store (roles, users, keys, managed policies, OIDC
providers).

Other parts call it directly: the gateway (`bootstrap_admin`), the authorizer (`policies_for`,
`principal_tags`), STS (`role_from_arn`, `managed_policy_document`), the credential resolver
(`access_key`, `find_user`). The IAM provider maps the wire operations onto it.
"""

from __future__ import annotations

from podid.services.base import Principal
from podid.services.iam.model import Role, User
from podid.services.iam.oidc import OidcProviderOps
from podid.services.iam.policies import PolicyOps
from podid.services.iam.roles import RoleOps
from podid.services.iam.users import UserOps

ADMIN_USER = "admin"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


class IamDomain(RoleOps, UserOps, PolicyOps, OidcProviderOps):
    """IAM for every account held in one store (IAM is global: no region in the keys)."""

    def bootstrap_admin(self, account: str) -> tuple[str, str]:
        """Ensure the account's administrator exists; return its (access key id, secret).

        Idempotent: the user `admin` with `AdministratorAccess` attached, and one active access key
        (random, created on first call and reused afterwards).
        """
        with self.store.transaction():
            if self.find_user(account, ADMIN_USER) is None:
                self.create_user(account, ADMIN_USER)
            user = self.get_user(account, ADMIN_USER)
            if ADMIN_POLICY not in user.attached:
                self.attach_user_policy(account, ADMIN_USER, ADMIN_POLICY)
            keys = [k for k in self.access_keys(account, ADMIN_USER) if k.status == "Active"]
            key = keys[0] if keys else self.create_access_key(account, ADMIN_USER)
        return key.access_key_id, key.secret

    def session_role(self, principal: Principal) -> Role | None:
        """The role behind a role session, if it still exists and is the same role (same id).

        A role deleted and re-created under the same name is a different role: sessions of the
        old one get no permissions from the new one (AWS keys roles by their unique id).
        """
        if principal.session is None:
            return None
        role = self.role_from_arn(principal.session.role_arn)
        if role is None or role.role_id != principal.session.role_id:
            return None
        return role

    def principal_entity(self, principal: Principal) -> Role | User | None:
        if principal.kind == "user":
            return self.find_user(principal.account, principal.name)
        if principal.kind == "role-session":
            return self.session_role(principal)
        return None

    def policies_for(self, principal: Principal) -> tuple[list[str], str | None]:
        """Identity policy documents (attached managed, then inline) and the boundary document."""
        entity = self.principal_entity(principal)
        if entity is None:
            return [], None
        documents = [d for d in (self.managed_policy_document(a) for a in entity.attached) if d is not None]
        documents.extend(entity.inline.values())
        boundary = self.managed_policy_document(entity.boundary_arn) if entity.boundary_arn else None
        if entity.boundary_arn and boundary is None:
            # The boundary policy vanished: fail closed with a boundary that allows nothing.
            boundary = '{"Version":"2012-10-17","Statement":[]}'
        return documents, boundary

    def principal_tags(self, principal: Principal) -> dict[str, str]:
        """`aws:PrincipalTag/*`: the user's or role's tags, then session tags override.

        Keys are case-insensitive (case preserved): a session tag replaces a role tag `Key`/`key`.
        """
        entity = self.principal_entity(principal)
        tags: dict[str, tuple[str, str]] = {}
        if entity is not None:
            for key, value in entity.tags:
                tags[key.lower()] = (key, value)
        if principal.session is not None:
            for key, value in principal.session.tags.items():
                tags[key.lower()] = (key, value)
        return dict(tags.values())
