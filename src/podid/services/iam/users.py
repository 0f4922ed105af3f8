"""IAM users and their access keys, attached and inline policies, boundaries and tags."""

from __future__ import annotations

from collections.abc import Sequence

from podid.services.iam.common import (
    ATTACHED_PER_ENTITY,
    USER_INLINE_MAX,
    IamCore,
    check_entity,
    check_tags,
    policy_chars,
    validate_document,
)
from podid.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from podid.services.iam.ids import access_key_id, secret_access_key, unique_id
from podid.services.iam.model import KEYS, USERS, AccessKey, User, entity_key
from podid.services.iam.paging import paginate

ACCESS_KEYS_PER_USER = 2


class UserOps(IamCore):
    def create_user(
        self,
        account: str,
        name: str,
        *,
        path: str = "/",
        boundary_arn: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> User:
        check_entity(name, "userName", 64, path)
        if self.find_user(account, name) is not None:
            raise EntityAlreadyExists(f"User with name {name} already exists.")
        merged = check_tags(tags)
        if boundary_arn is not None:
            self.boundary_policy(account, boundary_arn)
        user = User(account, name, path, unique_id("AIDA"), self.clock.now(), boundary_arn, merged)
        self.save_user(user)
        return user

    def list_users(
        self, account: str, path_prefix: str | None, marker: str | None, max_items: int | None
    ) -> tuple[list[User], str | None]:
        users = [
            User.from_doc(doc)
            for _, doc in self.store.scan(USERS, f"{account}/")
            if doc["path"].startswith(path_prefix or "/")
        ]
        return paginate(users, lambda u: u.name.lower(), marker, max_items)

    def delete_user(self, account: str, name: str) -> None:
        user = self.get_user(account, name)
        if self.access_keys(account, user.name):
            raise DeleteConflict("Cannot delete entity, must delete access keys first.")
        if user.attached:
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        if user.inline:
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        self.store.delete(USERS, entity_key(account, name))

    def tag_user(self, account: str, name: str, tags: Sequence[tuple[str, str]]) -> None:
        user = self.get_user(account, name)
        self.save_user(user.evolve(tags=check_tags(tags, user.tags)))

    def untag_user(self, account: str, name: str, keys: Sequence[str]) -> None:
        user = self.get_user(account, name)
        drop = {k.lower() for k in keys}
        self.save_user(user.evolve(tags=tuple((k, v) for k, v in user.tags if k.lower() not in drop)))

    def put_user_permissions_boundary(self, account: str, name: str, arn: str) -> None:
        user = self.get_user(account, name)
        self.boundary_policy(account, arn)
        self.save_user(user.evolve(boundary_arn=arn))

    def delete_user_permissions_boundary(self, account: str, name: str) -> None:
        user = self.get_user(account, name)
        self.save_user(user.evolve(boundary_arn=None))

    def attach_user_policy(self, account: str, name: str, arn: str) -> None:
        user = self.get_user(account, name)
        self.attachable_policy(account, arn)
        if arn in user.attached:
            return
        if len(user.attached) >= ATTACHED_PER_ENTITY:
            raise LimitExceeded(f"Cannot exceed quota for PoliciesPerUser: {ATTACHED_PER_ENTITY}")
        self.save_user(user.evolve(attached=(*user.attached, arn)))

    def detach_user_policy(self, account: str, name: str, arn: str) -> None:
        user = self.get_user(account, name)
        if arn not in user.attached:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        self.save_user(user.evolve(attached=tuple(a for a in user.attached if a != arn)))

    def put_user_policy(self, account: str, name: str, policy_name: str, document: str) -> None:
        user = self.get_user(account, name)
        validate_document(document, "identity")
        inline = {k: v for k, v in user.inline.items() if k.lower() != policy_name.lower()}
        inline[policy_name] = document
        if sum(policy_chars(d) for d in inline.values()) > USER_INLINE_MAX:
            raise LimitExceeded(
                f"Maximum policy size of {USER_INLINE_MAX} bytes exceeded for user {user.name}"
            )
        self.save_user(user.evolve(inline=inline))

    def get_user_policy(self, account: str, name: str, policy_name: str) -> tuple[User, str, str]:
        user = self.get_user(account, name)
        for key, document in user.inline.items():
            if key.lower() == policy_name.lower():
                return user, key, document
        raise NoSuchEntity(f"The user policy with name {policy_name} cannot be found.")

    def delete_user_policy(self, account: str, name: str, policy_name: str) -> None:
        user, key, _ = self.get_user_policy(account, name, policy_name)
        self.save_user(user.evolve(inline={k: v for k, v in user.inline.items() if k != key}))

    # access keys
    def access_keys(self, account: str, user_name: str) -> list[AccessKey]:
        keys = [
            AccessKey.from_doc(doc)
            for _, doc in self.store.scan(KEYS)
            if doc["account"] == account and doc["user"].lower() == user_name.lower()
        ]
        return sorted(keys, key=lambda k: k.create_date)

    def access_key(self, key_id: str) -> AccessKey | None:
        return self._load(KEYS, key_id, AccessKey.from_doc)

    def create_access_key(self, account: str, user_name: str) -> AccessKey:
        user = self.get_user(account, user_name)
        if len(self.access_keys(account, user.name)) >= ACCESS_KEYS_PER_USER:
            raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
        key = AccessKey(access_key_id(), account, user.name, secret_access_key(), "Active", self.clock.now())
        self.store.put(KEYS, key.access_key_id, key.to_doc())
        return key

    def _owned_key(self, account: str, user_name: str, key_id: str) -> AccessKey:
        key = self.access_key(key_id)
        if key is None or key.account != account or key.user_name.lower() != user_name.lower():
            raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
        return key

    def delete_access_key(self, account: str, user_name: str, key_id: str) -> None:
        self.get_user(account, user_name)
        self._owned_key(account, user_name, key_id)
        self.store.delete(KEYS, key_id)

    def update_access_key(self, account: str, user_name: str, key_id: str, status: str) -> None:
        self.get_user(account, user_name)
        key = self._owned_key(account, user_name, key_id)
        doc = key.to_doc()
        doc["status"] = status
        self.store.put(KEYS, key_id, doc)
