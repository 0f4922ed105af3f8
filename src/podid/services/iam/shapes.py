"""Domain objects -> botocore output shapes of IAM (dicts the query serializer writes)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

from podid.services.iam.model import AccessKey, PolicyVersion, Role, Tags, User
from podid.services.iam.policies import PolicyView


@lru_cache(maxsize=256)
def encode_document(document: str) -> str:
    """Policy documents travel URL-encoded in IAM's responses (botocore decodes them).

    Cached: the same few documents (a role's trust policy) are encoded on every GetRole, and
    `quote` walks the text byte by byte.
    """
    return quote(document, safe="")


def tags_out(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def boundary_out(arn: str | None) -> dict[str, Any]:
    if arn is None:
        return {}
    return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}}


def role_out(role: Role, *, full: bool = True) -> dict[str, Any]:
    """`Role`; ListRoles omits tags, boundary and last-used as IAM does (full=False)."""
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.create_date,
        "AssumeRolePolicyDocument": encode_document(role.trust_policy),
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.description is not None:
        out["Description"] = role.description
    if full:
        out.update(boundary_out(role.boundary_arn))
        if role.tags:
            out["Tags"] = tags_out(role.tags)
        last: dict[str, Any] = {}
        if role.last_used is not None:
            last = {"LastUsedDate": role.last_used, "Region": role.last_used_region}
        out["RoleLastUsed"] = last
    return out


def user_out(user: User, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.create_date,
    }
    if full:
        out.update(boundary_out(user.boundary_arn))
        if user.tags:
            out["Tags"] = tags_out(user.tags)
    return out


def policy_out(view: PolicyView, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "PolicyName": view.name,
        "PolicyId": view.policy_id,
        "Arn": view.arn,
        "Path": view.path,
        "DefaultVersionId": view.default_version_id,
        "AttachmentCount": view.attachment_count,
        "PermissionsBoundaryUsageCount": view.boundary_usage_count,
        "IsAttachable": True,
        "CreateDate": view.create_date,
        "UpdateDate": view.update_date,
    }
    if full and view.description is not None:
        out["Description"] = view.description
    if full and view.tags:
        out["Tags"] = tags_out(view.tags)
    return out


def version_out(version: PolicyVersion, is_default: bool, *, document: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": is_default,
        "CreateDate": version.create_date,
    }
    if document:
        out["Document"] = encode_document(version.document)
    return out


def key_out(key: AccessKey, *, secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.create_date,
    }
    if secret:
        out["SecretAccessKey"] = key.secret
    return out


def page_out(name: str, items: list[dict[str, Any]], marker: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {name: items, "IsTruncated": marker is not None}
    if marker is not None:
        out["Marker"] = marker
    return out
