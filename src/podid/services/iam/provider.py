"""`IamProvider`: IAM's wire operations (botocore `iam` 2010-05-08, query protocol) over `IamDomain`.

Each method takes the `Call` and the parsed input (botocore member names) and returns the output
shape. Authorization is declared per operation with `iam_op` (see `podid.services.iam.authz`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from podid.errors import InternalFailure, ValidationError
from podid.services.base import (
    AuthzCheck,
    Call,
    Handler,
    OperationSpec,
    Params,
    Provider,
    Result,
    operation,
)
from podid.services.iam import authz as az
from podid.services.iam.common import tags_param
from podid.services.iam.domain import IamDomain
from podid.services.iam.errors import NoSuchEntity
from podid.services.iam.oidc_wire import OidcProviderWire
from podid.services.iam.paging import paginate
from podid.services.iam.shapes import (
    encode_document,
    key_out,
    page_out,
    policy_out,
    role_out,
    tags_out,
    user_out,
    version_out,
)


def _unbound(call: Call, params: Params) -> Sequence[AuthzCheck]:
    """Fails closed if an IAM operation is ever dispatched without its domain-bound authorization."""
    raise InternalFailure(f"iam:{call.operation} was dispatched without its authorization spec")


def iam_op(name: str, authz: az.DomainAuthz) -> Callable[[Handler], Handler]:
    """`@operation` whose authorization spec also receives the IAM domain (bound per provider)."""

    def wrap(func: Handler) -> Handler:
        func.__iam_authz__ = authz  # type: ignore[attr-defined]
        return operation(name, authz=_unbound)(func)

    return wrap


class IamProvider(OidcProviderWire, Provider):
    service_name = "iam"

    def __init__(self, iam: IamDomain) -> None:
        self.iam = iam

    def operations(self) -> dict[str, OperationSpec]:
        found = super().operations()
        bound: dict[str, OperationSpec] = {}
        for name, spec in found.items():
            domain_authz = getattr(getattr(type(self), spec.handler_name), "__iam_authz__", None)
            if domain_authz is not None:
                bound[name] = OperationSpec(name, _bind(domain_authz, self.iam), spec.handler_name)
            else:
                bound[name] = spec
        return bound

    # roles
    @iam_op("CreateRole", az.on_new("role", "iam:CreateRole"))
    def create_role(self, call: Call, p: Params) -> Result:
        role = self.iam.create_role(
            call.account,
            p["RoleName"],
            p["AssumeRolePolicyDocument"],
            path=p.get("Path") or "/",
            description=p.get("Description"),
            max_session_duration=p.get("MaxSessionDuration"),
            boundary_arn=p.get("PermissionsBoundary"),
            tags=tags_param(p.get("Tags")),
        )
        out = role_out(role)
        out.pop("RoleLastUsed", None)
        return {"Role": out}

    @iam_op("GetRole", az.on_role("iam:GetRole"))
    def get_role(self, call: Call, p: Params) -> Result:
        return {"Role": role_out(self.iam.get_role(call.account, p["RoleName"]))}

    @iam_op("ListRoles", az.on_any("iam:ListRoles"))
    def list_roles(self, call: Call, p: Params) -> Result:
        roles, marker = self.iam.list_roles(
            call.account, p.get("PathPrefix"), p.get("Marker"), p.get("MaxItems")
        )
        return page_out("Roles", [role_out(r, full=False) for r in roles], marker)

    @iam_op("DeleteRole", az.on_role("iam:DeleteRole"))
    def delete_role(self, call: Call, p: Params) -> Result:
        self.iam.delete_role(call.account, p["RoleName"])
        return {}

    @iam_op("UpdateRole", az.on_role("iam:UpdateRole"))
    def update_role(self, call: Call, p: Params) -> Result:
        self.iam.update_role(
            call.account,
            p["RoleName"],
            description=p.get("Description"),
            max_session_duration=p.get("MaxSessionDuration"),
        )
        return {}

    @iam_op("UpdateRoleDescription", az.on_role("iam:UpdateRoleDescription"))
    def update_role_description(self, call: Call, p: Params) -> Result:
        role = self.iam.update_role(call.account, p["RoleName"], description=p.get("Description", ""))
        return {"Role": role_out(role)}

    @iam_op("UpdateAssumeRolePolicy", az.on_role("iam:UpdateAssumeRolePolicy"))
    def update_assume_role_policy(self, call: Call, p: Params) -> Result:
        self.iam.update_assume_role_policy(call.account, p["RoleName"], p["PolicyDocument"])
        return {}

    @iam_op("TagRole", az.on_role("iam:TagRole", az.tag_keys))
    def tag_role(self, call: Call, p: Params) -> Result:
        self.iam.tag_role(call.account, p["RoleName"], tags_param(p.get("Tags")))
        return {}

    @iam_op("UntagRole", az.on_role("iam:UntagRole", az.untag_keys))
    def untag_role(self, call: Call, p: Params) -> Result:
        self.iam.untag_role(call.account, p["RoleName"], p.get("TagKeys") or [])
        return {}

    @iam_op("ListRoleTags", az.on_role("iam:ListRoleTags"))
    def list_role_tags(self, call: Call, p: Params) -> Result:
        role = self.iam.get_role(call.account, p["RoleName"])
        tags, marker = paginate(list(role.tags), lambda t: t[0].lower(), p.get("Marker"), p.get("MaxItems"))
        return page_out("Tags", tags_out(tuple(tags)), marker)

    @iam_op("PutRolePermissionsBoundary", az.on_role("iam:PutRolePermissionsBoundary", az.boundary_key))
    def put_role_permissions_boundary(self, call: Call, p: Params) -> Result:
        self.iam.put_role_permissions_boundary(call.account, p["RoleName"], p["PermissionsBoundary"])
        return {}

    @iam_op("DeleteRolePermissionsBoundary", az.on_role("iam:DeleteRolePermissionsBoundary"))
    def delete_role_permissions_boundary(self, call: Call, p: Params) -> Result:
        self.iam.delete_role_permissions_boundary(call.account, p["RoleName"])
        return {}

    # role policies
    @iam_op("AttachRolePolicy", az.on_role("iam:AttachRolePolicy", az.policy_arn_key))
    def attach_role_policy(self, call: Call, p: Params) -> Result:
        self.iam.attach_role_policy(call.account, p["RoleName"], p["PolicyArn"])
        return {}

    @iam_op("DetachRolePolicy", az.on_role("iam:DetachRolePolicy", az.policy_arn_key))
    def detach_role_policy(self, call: Call, p: Params) -> Result:
        self.iam.detach_role_policy(call.account, p["RoleName"], p["PolicyArn"])
        return {}

    @iam_op("ListAttachedRolePolicies", az.on_role("iam:ListAttachedRolePolicies"))
    def list_attached_role_policies(self, call: Call, p: Params) -> Result:
        role = self.iam.get_role(call.account, p["RoleName"])
        return self._attached(role.attached, p)

    @iam_op("PutRolePolicy", az.on_role("iam:PutRolePolicy"))
    def put_role_policy(self, call: Call, p: Params) -> Result:
        self.iam.put_role_policy(call.account, p["RoleName"], p["PolicyName"], p["PolicyDocument"])
        return {}

    @iam_op("GetRolePolicy", az.on_role("iam:GetRolePolicy"))
    def get_role_policy(self, call: Call, p: Params) -> Result:
        role, name, document = self.iam.get_role_policy(call.account, p["RoleName"], p["PolicyName"])
        return {"RoleName": role.name, "PolicyName": name, "PolicyDocument": encode_document(document)}

    @iam_op("DeleteRolePolicy", az.on_role("iam:DeleteRolePolicy"))
    def delete_role_policy(self, call: Call, p: Params) -> Result:
        self.iam.delete_role_policy(call.account, p["RoleName"], p["PolicyName"])
        return {}

    @iam_op("ListRolePolicies", az.on_role("iam:ListRolePolicies"))
    def list_role_policies(self, call: Call, p: Params) -> Result:
        role = self.iam.get_role(call.account, p["RoleName"])
        names, marker = paginate(list(role.inline), str.lower, p.get("Marker"), p.get("MaxItems"))
        return page_out("PolicyNames", names, marker)  # type: ignore[arg-type]

    def _attached(self, arns: tuple[str, ...], p: Params) -> Result:
        prefix = p.get("PathPrefix") or "/"
        items = []
        for arn in arns:
            name = arn.rsplit("/", 1)[-1]
            path = arn.split(":policy", 1)[1][: -len(name)]
            if path.startswith(prefix):
                items.append({"PolicyName": name, "PolicyArn": arn})
        page, marker = paginate(items, lambda i: i["PolicyName"].lower(), p.get("Marker"), p.get("MaxItems"))
        return page_out("AttachedPolicies", page, marker)

    # users
    @iam_op("CreateUser", az.on_new("user", "iam:CreateUser"))
    def create_user(self, call: Call, p: Params) -> Result:
        user = self.iam.create_user(
            call.account,
            p["UserName"],
            path=p.get("Path") or "/",
            boundary_arn=p.get("PermissionsBoundary"),
            tags=tags_param(p.get("Tags")),
        )
        return {"User": user_out(user)}

    @iam_op("GetUser", az.on_user("iam:GetUser"))
    def get_user(self, call: Call, p: Params) -> Result:
        name = p.get("UserName")
        if not name:
            if call.principal.kind != "user":
                raise ValidationError("Must specify userName when calling with non-User credentials")
            name = call.principal.name
        return {"User": user_out(self.iam.get_user(call.account, name))}

    @iam_op("ListUsers", az.on_any("iam:ListUsers"))
    def list_users(self, call: Call, p: Params) -> Result:
        users, marker = self.iam.list_users(
            call.account, p.get("PathPrefix"), p.get("Marker"), p.get("MaxItems")
        )
        return page_out("Users", [user_out(u, full=False) for u in users], marker)

    @iam_op("DeleteUser", az.on_user("iam:DeleteUser"))
    def delete_user(self, call: Call, p: Params) -> Result:
        self.iam.delete_user(call.account, p["UserName"])
        return {}

    @iam_op("TagUser", az.on_user("iam:TagUser", az.tag_keys))
    def tag_user(self, call: Call, p: Params) -> Result:
        self.iam.tag_user(call.account, p["UserName"], tags_param(p.get("Tags")))
        return {}

    @iam_op("UntagUser", az.on_user("iam:UntagUser", az.untag_keys))
    def untag_user(self, call: Call, p: Params) -> Result:
        self.iam.untag_user(call.account, p["UserName"], p.get("TagKeys") or [])
        return {}

    @iam_op("ListUserTags", az.on_user("iam:ListUserTags"))
    def list_user_tags(self, call: Call, p: Params) -> Result:
        user = self.iam.get_user(call.account, p["UserName"])
        tags, marker = paginate(list(user.tags), lambda t: t[0].lower(), p.get("Marker"), p.get("MaxItems"))
        return page_out("Tags", tags_out(tuple(tags)), marker)

    @iam_op("PutUserPermissionsBoundary", az.on_user("iam:PutUserPermissionsBoundary", az.boundary_key))
    def put_user_permissions_boundary(self, call: Call, p: Params) -> Result:
        self.iam.put_user_permissions_boundary(call.account, p["UserName"], p["PermissionsBoundary"])
        return {}

    @iam_op("DeleteUserPermissionsBoundary", az.on_user("iam:DeleteUserPermissionsBoundary"))
    def delete_user_permissions_boundary(self, call: Call, p: Params) -> Result:
        self.iam.delete_user_permissions_boundary(call.account, p["UserName"])
        return {}

    @iam_op("AttachUserPolicy", az.on_user("iam:AttachUserPolicy", az.policy_arn_key))
    def attach_user_policy(self, call: Call, p: Params) -> Result:
        self.iam.attach_user_policy(call.account, p["UserName"], p["PolicyArn"])
        return {}

    @iam_op("DetachUserPolicy", az.on_user("iam:DetachUserPolicy", az.policy_arn_key))
    def detach_user_policy(self, call: Call, p: Params) -> Result:
        self.iam.detach_user_policy(call.account, p["UserName"], p["PolicyArn"])
        return {}

    @iam_op("ListAttachedUserPolicies", az.on_user("iam:ListAttachedUserPolicies"))
    def list_attached_user_policies(self, call: Call, p: Params) -> Result:
        user = self.iam.get_user(call.account, p["UserName"])
        return self._attached(user.attached, p)

    @iam_op("PutUserPolicy", az.on_user("iam:PutUserPolicy"))
    def put_user_policy(self, call: Call, p: Params) -> Result:
        self.iam.put_user_policy(call.account, p["UserName"], p["PolicyName"], p["PolicyDocument"])
        return {}

    @iam_op("GetUserPolicy", az.on_user("iam:GetUserPolicy"))
    def get_user_policy(self, call: Call, p: Params) -> Result:
        user, name, document = self.iam.get_user_policy(call.account, p["UserName"], p["PolicyName"])
        return {"UserName": user.name, "PolicyName": name, "PolicyDocument": encode_document(document)}

    @iam_op("DeleteUserPolicy", az.on_user("iam:DeleteUserPolicy"))
    def delete_user_policy(self, call: Call, p: Params) -> Result:
        self.iam.delete_user_policy(call.account, p["UserName"], p["PolicyName"])
        return {}

    @iam_op("ListUserPolicies", az.on_user("iam:ListUserPolicies"))
    def list_user_policies(self, call: Call, p: Params) -> Result:
        user = self.iam.get_user(call.account, p["UserName"])
        names, marker = paginate(list(user.inline), str.lower, p.get("Marker"), p.get("MaxItems"))
        return page_out("PolicyNames", names, marker)  # type: ignore[arg-type]

    # access keys
    def _key_owner(self, call: Call, p: Params) -> str:
        name = p.get("UserName")
        if name:
            return str(name)
        if call.principal.kind != "user":
            raise ValidationError("Must specify userName when calling with non-User credentials")
        return call.principal.name

    @iam_op("CreateAccessKey", az.on_user("iam:CreateAccessKey"))
    def create_access_key(self, call: Call, p: Params) -> Result:
        key = self.iam.create_access_key(call.account, self._key_owner(call, p))
        return {"AccessKey": key_out(key, secret=True)}

    @iam_op("DeleteAccessKey", az.on_user("iam:DeleteAccessKey"))
    def delete_access_key(self, call: Call, p: Params) -> Result:
        self.iam.delete_access_key(call.account, self._key_owner(call, p), p["AccessKeyId"])
        return {}

    @iam_op("UpdateAccessKey", az.on_user("iam:UpdateAccessKey"))
    def update_access_key(self, call: Call, p: Params) -> Result:
        self.iam.update_access_key(call.account, self._key_owner(call, p), p["AccessKeyId"], p["Status"])
        return {}

    @iam_op("ListAccessKeys", az.on_user("iam:ListAccessKeys"))
    def list_access_keys(self, call: Call, p: Params) -> Result:
        owner = self._key_owner(call, p)
        self.iam.get_user(call.account, owner)
        keys = [key_out(k) for k in self.iam.access_keys(call.account, owner)]
        return page_out("AccessKeyMetadata", keys, None)

    @iam_op("GetAccessKeyLastUsed", az.on_any("iam:GetAccessKeyLastUsed"))
    def get_access_key_last_used(self, call: Call, p: Params) -> Result:
        key = self.iam.access_key(p["AccessKeyId"])
        if key is None or key.account != call.account:
            raise NoSuchEntity(f"The Access Key with id {p['AccessKeyId']} cannot be found.")
        last: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
        if key.last_used is not None:
            last = {
                "LastUsedDate": key.last_used,
                "ServiceName": key.last_used_service,
                "Region": key.last_used_region,
            }
        return {"UserName": key.user_name, "AccessKeyLastUsed": last}

    # managed policies
    @iam_op("CreatePolicy", az.on_new("policy", "iam:CreatePolicy"))
    def create_policy(self, call: Call, p: Params) -> Result:
        policy = self.iam.create_policy(
            call.account,
            p["PolicyName"],
            p["PolicyDocument"],
            path=p.get("Path") or "/",
            description=p.get("Description"),
            tags=tags_param(p.get("Tags")),
        )
        view = self.iam.get_policy(call.account, policy.arn)
        return {"Policy": policy_out(view)}

    @iam_op("GetPolicy", az.on_policy("iam:GetPolicy"))
    def get_policy(self, call: Call, p: Params) -> Result:
        return {"Policy": policy_out(self.iam.get_policy(call.account, p["PolicyArn"]))}

    @iam_op("DeletePolicy", az.on_policy("iam:DeletePolicy"))
    def delete_policy(self, call: Call, p: Params) -> Result:
        self.iam.delete_policy(call.account, p["PolicyArn"])
        return {}

    @iam_op("ListPolicies", az.on_any("iam:ListPolicies"))
    def list_policies(self, call: Call, p: Params) -> Result:
        views, marker = self.iam.list_policies(
            call.account,
            scope=p.get("Scope") or "All",
            only_attached=bool(p.get("OnlyAttached")),
            path_prefix=p.get("PathPrefix"),
            usage_filter=p.get("PolicyUsageFilter"),
            marker=p.get("Marker"),
            max_items=p.get("MaxItems"),
        )
        return page_out("Policies", [policy_out(v, full=False) for v in views], marker)

    @iam_op("CreatePolicyVersion", az.on_policy("iam:CreatePolicyVersion"))
    def create_policy_version(self, call: Call, p: Params) -> Result:
        version = self.iam.create_policy_version(
            call.account, p["PolicyArn"], p["PolicyDocument"], bool(p.get("SetAsDefault"))
        )
        return {"PolicyVersion": version_out(version, bool(p.get("SetAsDefault")), document=False)}

    @iam_op("GetPolicyVersion", az.on_policy("iam:GetPolicyVersion"))
    def get_policy_version(self, call: Call, p: Params) -> Result:
        version, default = self.iam.get_policy_version(call.account, p["PolicyArn"], p["VersionId"])
        return {"PolicyVersion": version_out(version, default)}

    @iam_op("ListPolicyVersions", az.on_policy("iam:ListPolicyVersions"))
    def list_policy_versions(self, call: Call, p: Params) -> Result:
        versions = self.iam.list_policy_versions(call.account, p["PolicyArn"])
        return page_out("Versions", [version_out(v, d, document=False) for v, d in versions], None)

    @iam_op("SetDefaultPolicyVersion", az.on_policy("iam:SetDefaultPolicyVersion"))
    def set_default_policy_version(self, call: Call, p: Params) -> Result:
        self.iam.set_default_policy_version(call.account, p["PolicyArn"], p["VersionId"])
        return {}

    @iam_op("DeletePolicyVersion", az.on_policy("iam:DeletePolicyVersion"))
    def delete_policy_version(self, call: Call, p: Params) -> Result:
        self.iam.delete_policy_version(call.account, p["PolicyArn"], p["VersionId"])
        return {}

    @iam_op("ListEntitiesForPolicy", az.on_policy("iam:ListEntitiesForPolicy"))
    def list_entities_for_policy(self, call: Call, p: Params) -> Result:
        roles, users = self.iam.list_entities_for_policy(
            call.account, p["PolicyArn"], p.get("EntityFilter"), p.get("PathPrefix")
        )
        return {
            "PolicyGroups": [],
            "PolicyUsers": [{"UserName": u.name, "UserId": u.user_id} for u in users],
            "PolicyRoles": [{"RoleName": r.name, "RoleId": r.role_id} for r in roles],
            "IsTruncated": False,
        }


def _bind(domain_authz: az.DomainAuthz, domain: IamDomain) -> Callable[[Call, Params], Any]:
    def bound(call: Call, params: Params) -> Any:
        return domain_authz(domain, call, params)

    return bound
