"""AWS::IAM::Role, AWS::IAM::ManagedPolicy and AWS::IAM::Policy over `IamDomain`.

Update behaviour from the resource schemas: a Role's RoleName or Path, and a ManagedPolicy's
ManagedPolicyName, Path or Description, replace it; everything else updates in place (a new
default version for a changed PolicyDocument, attach/detach for ManagedPolicyArns and Roles/Users,
put/delete for inline Policies). Ref: the role name, the managed policy's ARN, the inline policy's
generated id. Deleting detaches and deletes only what the template declared, so a policy attached
to the role outside the stack makes the delete fail with IAM's DeleteConflict, as on AWS.
IAM groups do not exist in podid: a `Groups` property fails the resource with a message that says so.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from podid.services.base import AuthzCheck
from podid.services.cloudformation.resources.base import (
    PropertyError,
    Provisioned,
    ResourceContext,
    ResourceHandler,
    as_int,
    string_list,
    tag_context,
    tags_of,
)
from podid.services.iam import IamDomain, NoSuchEntity


def document(value: Any, name: str) -> str:
    """A policy document property: a JSON object in the template, or its JSON text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    raise PropertyError(f"#/{name}: expected type: JSONObject, found: {type(value).__name__}")


def _inline(props: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in props.get("Policies") or ():
        if not isinstance(item, dict) or "PolicyName" not in item or "PolicyDocument" not in item:
            raise PropertyError("#/Policies: required key [PolicyName, PolicyDocument] not found")
        out[str(item["PolicyName"])] = document(item["PolicyDocument"], "Policies/PolicyDocument")
    return out


def _no_groups(props: Mapping[str, Any]) -> None:
    if props.get("Groups"):
        raise PropertyError("podid has no IAM groups: the Groups property cannot be provisioned.")


class _Iam(ResourceHandler):
    iam: ClassVar[bool] = True

    def __init__(self, domain: IamDomain) -> None:
        self.domain = domain

    def _role_arn(self, ctx: ResourceContext, name: str) -> str:
        role = self.domain.find_role(ctx.account, name)
        return role.arn if role is not None else f"arn:aws:iam::{ctx.account}:role/{name}"

    def _user_arn(self, ctx: ResourceContext, name: str) -> str:
        user = self.domain.find_user(ctx.account, name)
        return user.arn if user is not None else f"arn:aws:iam::{ctx.account}:user/{name}"


class RoleHandler(_Iam):
    type_name = "AWS::IAM::Role"
    properties = frozenset(
        {
            "AssumeRolePolicyDocument",
            "Description",
            "ManagedPolicyArns",
            "MaxSessionDuration",
            "Path",
            "PermissionsBoundary",
            "Policies",
            "RoleName",
            "Tags",
        }
    )
    required = ("AssumeRolePolicyDocument",)
    lists = frozenset({"ManagedPolicyArns", "Policies", "Tags"})
    replace_on = frozenset({"RoleName", "Path"})
    attributes = frozenset({"Arn", "RoleId"})
    name_property = "RoleName"

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        name = str(props.get("RoleName") or ctx.generated_name(64))
        path = str(props.get("Path") or "/")
        arn = f"arn:aws:iam::{ctx.account}:role{path}{name}"
        tags = tags_of(props)
        boundary = props.get("PermissionsBoundary")
        context = tag_context(tags)
        if boundary:
            context["iam:PermissionsBoundary"] = str(boundary)
        ctx.authorize(AuthzCheck("iam:CreateRole", arn, context))
        inline = _inline(props)
        managed = string_list(props.get("ManagedPolicyArns"), "ManagedPolicyArns")
        if inline:
            ctx.authorize(AuthzCheck("iam:PutRolePolicy", arn))
        for policy_arn in managed:
            ctx.authorize(AuthzCheck("iam:AttachRolePolicy", arn, {"iam:PolicyARN": policy_arn}))
        trust = document(props["AssumeRolePolicyDocument"], "AssumeRolePolicyDocument")
        duration = props.get("MaxSessionDuration")
        role = self.domain.create_role(
            ctx.account,
            name,
            trust,
            path=path,
            description=props.get("Description"),
            max_session_duration=as_int(duration, "MaxSessionDuration") if duration is not None else None,
            boundary_arn=str(boundary) if boundary else None,
            tags=tags,
        )
        try:
            for policy_name, text in inline.items():
                self.domain.put_role_policy(ctx.account, name, policy_name, text)
            for policy_arn in managed:
                self.domain.attach_role_policy(ctx.account, name, policy_arn)
        except Exception:
            self._remove(ctx.account, name, managed, list(inline))
            raise
        return Provisioned(name, {"Arn": role.arn, "RoleId": role.role_id})

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        name = current.physical_id
        role = self.domain.get_role(ctx.account, name)
        arn = role.arn
        if old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            ctx.authorize(AuthzCheck("iam:UpdateAssumeRolePolicy", arn))
            trust = document(new["AssumeRolePolicyDocument"], "AssumeRolePolicyDocument")
            self.domain.update_assume_role_policy(ctx.account, name, trust)
        if old.get("Description") != new.get("Description") or old.get("MaxSessionDuration") != new.get(
            "MaxSessionDuration"
        ):
            ctx.authorize(AuthzCheck("iam:UpdateRole", arn))
            duration = new.get("MaxSessionDuration")
            self.domain.update_role(
                ctx.account,
                name,
                description=str(new.get("Description") or ""),
                max_session_duration=as_int(duration, "MaxSessionDuration") if duration is not None else 3600,
            )
        old_inline, new_inline = _inline(old), _inline(new)
        for policy_name, text in new_inline.items():
            if old_inline.get(policy_name) != text:
                ctx.authorize(AuthzCheck("iam:PutRolePolicy", arn))
                self.domain.put_role_policy(ctx.account, name, policy_name, text)
        for policy_name in old_inline.keys() - new_inline.keys():
            ctx.authorize(AuthzCheck("iam:DeleteRolePolicy", arn))
            self.domain.delete_role_policy(ctx.account, name, policy_name)
        old_managed = set(string_list(old.get("ManagedPolicyArns"), "ManagedPolicyArns"))
        new_managed = string_list(new.get("ManagedPolicyArns"), "ManagedPolicyArns")
        for policy_arn in new_managed:
            if policy_arn not in old_managed:
                ctx.authorize(AuthzCheck("iam:AttachRolePolicy", arn, {"iam:PolicyARN": policy_arn}))
                self.domain.attach_role_policy(ctx.account, name, policy_arn)
        for policy_arn in old_managed - set(new_managed):
            ctx.authorize(AuthzCheck("iam:DetachRolePolicy", arn, {"iam:PolicyARN": policy_arn}))
            self.domain.detach_role_policy(ctx.account, name, policy_arn)
        if old.get("PermissionsBoundary") != new.get("PermissionsBoundary"):
            boundary = new.get("PermissionsBoundary")
            if boundary:
                ctx.authorize(AuthzCheck("iam:PutRolePermissionsBoundary", arn))
                self.domain.put_role_permissions_boundary(ctx.account, name, str(boundary))
            else:
                ctx.authorize(AuthzCheck("iam:DeleteRolePermissionsBoundary", arn))
                self.domain.delete_role_permissions_boundary(ctx.account, name)
        old_tags, new_tags = dict(tags_of(old)), dict(tags_of(new))
        if old_tags != new_tags:
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                ctx.authorize(AuthzCheck("iam:UntagRole", arn, {"aws:TagKeys": gone}))
                self.domain.untag_role(ctx.account, name, gone)
            if new_tags:
                ctx.authorize(AuthzCheck("iam:TagRole", arn, tag_context(list(new_tags.items()))))
                self.domain.tag_role(ctx.account, name, list(new_tags.items()))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        name = current.physical_id
        role = self.domain.find_role(ctx.account, name)
        if role is None:
            return
        managed = [
            a for a in string_list(props.get("ManagedPolicyArns"), "ManagedPolicyArns") if a in role.attached
        ]
        inline = [n for n in role.inline if n in _inline(props)]
        for policy_arn in managed:
            ctx.authorize(AuthzCheck("iam:DetachRolePolicy", role.arn, {"iam:PolicyARN": policy_arn}))
        if inline:
            ctx.authorize(AuthzCheck("iam:DeleteRolePolicy", role.arn))
        ctx.authorize(AuthzCheck("iam:DeleteRole", role.arn))
        self._remove(ctx.account, name, managed, inline)

    def _remove(self, account: str, name: str, managed: list[str], inline: list[str]) -> None:
        role = self.domain.find_role(account, name)
        if role is None:
            return
        for policy_arn in managed:
            if policy_arn in role.attached:
                self.domain.detach_role_policy(account, name, policy_arn)
        for policy_name in inline:
            if policy_name in role.inline:
                self.domain.delete_role_policy(account, name, policy_name)
        self.domain.delete_role(account, name)


class ManagedPolicyHandler(_Iam):
    type_name = "AWS::IAM::ManagedPolicy"
    properties = frozenset(
        {"Description", "Groups", "ManagedPolicyName", "Path", "PolicyDocument", "Roles", "Users"}
    )
    required = ("PolicyDocument",)
    replace_on = frozenset({"ManagedPolicyName", "Path", "Description"})
    attributes = frozenset(
        {
            "PolicyArn",
            "PolicyId",
            "DefaultVersionId",
            "AttachmentCount",
            "PermissionsBoundaryUsageCount",
            "IsAttachable",
            "CreateDate",
            "UpdateDate",
        }
    )
    name_property = "ManagedPolicyName"

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        _no_groups(props)
        name = str(props.get("ManagedPolicyName") or ctx.generated_name(128))
        path = str(props.get("Path") or "/")
        arn = f"arn:aws:iam::{ctx.account}:policy{path}{name}"
        ctx.authorize(AuthzCheck("iam:CreatePolicy", arn))
        roles = string_list(props.get("Roles"), "Roles")
        users = string_list(props.get("Users"), "Users")
        self._authorize_attach(ctx, arn, roles, users, attach=True)
        text = document(props["PolicyDocument"], "PolicyDocument")
        policy = self.domain.create_policy(
            ctx.account, name, text, path=path, description=props.get("Description")
        )
        try:
            self._attach(ctx.account, policy.arn, roles, users)
        except Exception:
            self._detach(ctx.account, policy.arn, roles, users)
            self.domain.delete_policy(ctx.account, policy.arn)
            raise
        return Provisioned(policy.arn, self._attributes(ctx, policy.arn))

    def _attributes(self, ctx: ResourceContext, arn: str) -> dict[str, Any]:
        view = self.domain.get_policy(ctx.account, arn)
        return {
            "PolicyArn": arn,
            "PolicyId": view.policy_id,
            "DefaultVersionId": view.default_version_id,
            "AttachmentCount": view.attachment_count,
            "PermissionsBoundaryUsageCount": view.boundary_usage_count,
            "IsAttachable": "true",
            "CreateDate": view.create_date.isoformat(),
            "UpdateDate": view.update_date.isoformat(),
        }

    def _authorize_attach(
        self, ctx: ResourceContext, arn: str, roles: list[str], users: list[str], *, attach: bool
    ) -> None:
        verb = "Attach" if attach else "Detach"
        for role in roles:
            ctx.authorize(
                AuthzCheck(f"iam:{verb}RolePolicy", self._role_arn(ctx, role), {"iam:PolicyARN": arn})
            )
        for user in users:
            ctx.authorize(
                AuthzCheck(f"iam:{verb}UserPolicy", self._user_arn(ctx, user), {"iam:PolicyARN": arn})
            )

    def _attach(self, account: str, arn: str, roles: list[str], users: list[str]) -> None:
        for role in roles:
            self.domain.attach_role_policy(account, role, arn)
        for user in users:
            self.domain.attach_user_policy(account, user, arn)

    def _detach(self, account: str, arn: str, roles: list[str], users: list[str]) -> None:
        for role in roles:
            found = self.domain.find_role(account, role)
            if found is not None and arn in found.attached:
                self.domain.detach_role_policy(account, role, arn)
        for user in users:
            found_user = self.domain.find_user(account, user)
            if found_user is not None and arn in found_user.attached:
                self.domain.detach_user_policy(account, user, arn)

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        _no_groups(new)
        arn = current.physical_id
        if old.get("PolicyDocument") != new.get("PolicyDocument"):
            ctx.authorize(AuthzCheck("iam:CreatePolicyVersion", arn))
            versions = self.domain.list_policy_versions(ctx.account, arn)
            if len(versions) >= 5:
                oldest = next(v for v, default in reversed(versions) if not default)
                self.domain.delete_policy_version(ctx.account, arn, oldest.version_id)
            self.domain.create_policy_version(
                ctx.account, arn, document(new["PolicyDocument"], "PolicyDocument"), True
            )
        old_roles, new_roles = (set(string_list(p.get("Roles"), "Roles")) for p in (old, new))
        old_users, new_users = (set(string_list(p.get("Users"), "Users")) for p in (old, new))
        add_r, add_u = sorted(new_roles - old_roles), sorted(new_users - old_users)
        del_r, del_u = sorted(old_roles - new_roles), sorted(old_users - new_users)
        self._authorize_attach(ctx, arn, add_r, add_u, attach=True)
        self._authorize_attach(ctx, arn, del_r, del_u, attach=False)
        self._attach(ctx.account, arn, add_r, add_u)
        self._detach(ctx.account, arn, del_r, del_u)
        return Provisioned(arn, self._attributes(ctx, arn))

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        arn = current.physical_id
        if self.domain.customer_policy_by_arn(arn) is None:
            return
        roles = string_list(props.get("Roles"), "Roles")
        users = string_list(props.get("Users"), "Users")
        self._authorize_attach(ctx, arn, roles, users, attach=False)
        ctx.authorize(AuthzCheck("iam:DeletePolicy", arn))
        self._detach(ctx.account, arn, roles, users)
        for version, default in self.domain.list_policy_versions(ctx.account, arn):
            if not default:
                self.domain.delete_policy_version(ctx.account, arn, version.version_id)
        self.domain.delete_policy(ctx.account, arn)


class InlinePolicyHandler(_Iam):
    type_name = "AWS::IAM::Policy"
    properties = frozenset({"Groups", "PolicyDocument", "PolicyName", "Roles", "Users"})
    required = ("PolicyDocument", "PolicyName")

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        _no_groups(props)
        if not props.get("Roles") and not props.get("Users"):
            raise PropertyError("At least one of [Groups,Roles,Users] must be non-empty.")
        self._put(ctx, props)
        return Provisioned(ctx.generated_name(30))

    def _targets(self, props: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        return string_list(props.get("Roles"), "Roles"), string_list(props.get("Users"), "Users")

    def _put(self, ctx: ResourceContext, props: Mapping[str, Any]) -> None:
        roles, users = self._targets(props)
        name = str(props["PolicyName"])
        text = document(props["PolicyDocument"], "PolicyDocument")
        for role in roles:
            ctx.authorize(AuthzCheck("iam:PutRolePolicy", self._role_arn(ctx, role)))
        for user in users:
            ctx.authorize(AuthzCheck("iam:PutUserPolicy", self._user_arn(ctx, user)))
        for role in roles:
            self.domain.put_role_policy(ctx.account, role, name, text)
        for user in users:
            self.domain.put_user_policy(ctx.account, user, name, text)

    def _drop(self, ctx: ResourceContext, props: Mapping[str, Any], keep: Mapping[str, Any] | None) -> None:
        roles, users = self._targets(props)
        name = str(props["PolicyName"])
        kept_roles, kept_users = self._targets(keep) if keep is not None else ([], [])
        same_name = keep is not None and str(keep["PolicyName"]).lower() == name.lower()
        for role in roles:
            if same_name and role in kept_roles:
                continue
            ctx.authorize(AuthzCheck("iam:DeleteRolePolicy", self._role_arn(ctx, role)))
            with contextlib.suppress(NoSuchEntity):
                self.domain.delete_role_policy(ctx.account, role, name)
        for user in users:
            if same_name and user in kept_users:
                continue
            ctx.authorize(AuthzCheck("iam:DeleteUserPolicy", self._user_arn(ctx, user)))
            with contextlib.suppress(NoSuchEntity):
                self.domain.delete_user_policy(ctx.account, user, name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        _no_groups(new)
        self._put(ctx, new)
        self._drop(ctx, old, new)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        self._drop(ctx, props, None)
