"""How each IAM operation is authorized: action, resource ARN (with the entity's path), condition keys.

The resource of an operation on an existing role or user needs the entity's path, which only the
domain knows; so IAM's authorization specs take the domain as first argument, and `IamProvider`
binds them to its domain when it lists its operations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podid.services.base import AuthzCheck, Call, ContextValue, Params
from podid.services.iam.model import Role, Tags, User

DomainAuthz = Callable[[Any, Call, Params], Sequence[AuthzCheck]]


def request_tag_context(raw_tags: Any) -> dict[str, ContextValue]:
    """`aws:RequestTag/<key>` for each tag and `aws:TagKeys` (from botocore's Tags list)."""
    tags = [(str(t["Key"]), str(t.get("Value", ""))) for t in raw_tags or ()]
    if not tags:
        return {}
    context: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags}
    context["aws:TagKeys"] = [k for k, _ in tags]
    return context


def resource_tag_context(tags: Tags) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    for key, value in tags:
        context[f"iam:ResourceTag/{key}"] = value
        context[f"aws:ResourceTag/{key}"] = value
    return context


def role_arn(domain: Any, call: Call, name: str) -> tuple[str, Role | None]:
    role: Role | None = domain.find_role(call.account, name)
    if role is not None:
        return role.arn, role
    return f"arn:aws:iam::{call.account}:role/{name}", None


def user_arn(domain: Any, call: Call, name: str | None) -> tuple[str, User | None]:
    if not name:
        name = call.principal.name if call.principal.kind == "user" else ""
    user: User | None = domain.find_user(call.account, name) if name else None
    if user is not None:
        return user.arn, user
    return f"arn:aws:iam::{call.account}:user/{name}", None


def on_role(action: str, extra: Callable[[Params], Mapping[str, ContextValue]] | None = None) -> DomainAuthz:
    """An action on the role named by `RoleName` (resource tags and boundary as condition keys)."""

    def spec(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
        arn, role = role_arn(domain, call, str(params.get("RoleName", "")))
        context: dict[str, ContextValue] = {}
        if role is not None:
            context.update(resource_tag_context(role.tags))
            if role.boundary_arn:
                context["iam:PermissionsBoundary"] = role.boundary_arn
        if extra is not None:
            context.update(extra(params))
        return (AuthzCheck(action, arn, context, resource_account=call.account),)

    return spec


def on_user(action: str, extra: Callable[[Params], Mapping[str, ContextValue]] | None = None) -> DomainAuthz:
    """An action on the user named by `UserName` (the caller when absent, as IAM does)."""

    def spec(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
        arn, user = user_arn(domain, call, params.get("UserName"))
        context: dict[str, ContextValue] = {}
        if user is not None:
            context.update(resource_tag_context(user.tags))
            if user.boundary_arn:
                context["iam:PermissionsBoundary"] = user.boundary_arn
        if extra is not None:
            context.update(extra(params))
        return (AuthzCheck(action, arn, context, resource_account=call.account),)

    return spec


def on_new(kind: str, action: str) -> DomainAuthz:
    """Create<Role|User|Policy>: the ARN the new entity will have, request tags, boundary."""

    def spec(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
        name = str(params.get(f"{kind.capitalize()}Name", ""))
        arn = f"arn:aws:iam::{call.account}:{kind}{params.get('Path') or '/'}{name}"
        context = request_tag_context(params.get("Tags"))
        if params.get("PermissionsBoundary"):
            context["iam:PermissionsBoundary"] = str(params["PermissionsBoundary"])
        return (AuthzCheck(action, arn, context, resource_account=call.account),)

    return spec


def on_policy(action: str) -> DomainAuthz:
    def spec(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
        return (AuthzCheck(action, str(params.get("PolicyArn", "")), resource_account=call.account),)

    return spec


def on_any(action: str) -> DomainAuthz:
    def spec(domain: Any, call: Call, params: Params) -> Sequence[AuthzCheck]:
        return (AuthzCheck(action, "*", resource_account=call.account),)

    return spec


def policy_arn_key(params: Params) -> Mapping[str, ContextValue]:
    return {"iam:PolicyARN": str(params.get("PolicyArn", ""))}


def boundary_key(params: Params) -> Mapping[str, ContextValue]:
    return {"iam:PermissionsBoundary": str(params.get("PermissionsBoundary", ""))}


def tag_keys(params: Params) -> Mapping[str, ContextValue]:
    return request_tag_context(params.get("Tags"))


def untag_keys(params: Params) -> Mapping[str, ContextValue]:
    return {"aws:TagKeys": [str(k) for k in params.get("TagKeys") or ()]}
