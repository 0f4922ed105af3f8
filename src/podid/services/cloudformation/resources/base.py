"""The contract of a resource type: create, update in place, delete, and what the template may say.

Each handler declares the properties its type accepts (`properties`), those it requires
(`required`), those whose change replaces the resource (`replace_on`, the resource schema's
"Update requires: Replacement"), the attributes `Fn::GetAtt` may read, and whether it is an IAM
resource (the CAPABILITY_IAM / CAPABILITY_NAMED_IAM rule). Handlers act through the services'
public domain APIs, after asking the authorizer with the stack operation's caller
(`ResourceContext.authorize`): CloudFormation without a service role acts with the caller's
permissions.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from podid.errors import AwsError
from podid.services.base import AuthzCheck, Call

_RANDOM = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Provisioned:
    """A physical resource: its physical id (what `Ref` usually gives) and its attributes."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    ref: str | None = None  # when `Ref` differs from the physical id


@dataclass(frozen=True)
class ResourceContext:
    call: Call
    authorize_checks: Callable[[Call, Sequence[AuthzCheck]], None]
    stack_name: str
    stack_id: str
    logical_id: str

    @property
    def account(self) -> str:
        return self.call.account

    @property
    def region(self) -> str:
        return self.call.region

    def authorize(self, *checks: AuthzCheck) -> None:
        self.authorize_checks(self.call, checks)

    def generated_name(self, max_length: int, *, lower: bool = False, with_stack: bool = True) -> str:
        """CloudFormation's name for an unnamed resource: `<stack>-<LogicalId>-<RANDOM12>`, cut to fit."""
        suffix = "".join(secrets.choice(_RANDOM) for _ in range(12))
        room = max_length - len(suffix) - (2 if with_stack else 1)
        if with_stack:
            stack_part = self.stack_name[: max(room // 2, room - len(self.logical_id))]
            logical_part = self.logical_id[: room - len(stack_part)]
            name = f"{stack_part}-{logical_part}-{suffix}"
        else:
            name = f"{self.logical_id[:room]}-{suffix}"
        return name.lower() if lower else name


class PropertyError(AwsError):
    """A property that the type's schema refuses (the resource fails with this message)."""

    code = "InvalidRequest"
    status = 400
    sender_fault = True


class NotUpdatable(AwsError):
    code = "NotUpdatable"
    status = 400
    sender_fault = True


class ResourceHandler:
    type_name: ClassVar[str]
    properties: ClassVar[frozenset[str]] = frozenset()
    required: ClassVar[tuple[str, ...]] = ()
    replace_on: ClassVar[frozenset[str]] = frozenset()
    attributes: ClassVar[frozenset[str]] = frozenset()
    iam: ClassVar[bool] = False
    name_property: ClassVar[str | None] = None  # a custom name: replacing it needs a new name
    objects: ClassVar[frozenset[str]] = frozenset()  # properties the schema types as objects
    lists: ClassVar[frozenset[str]] = frozenset({"Tags"})  # ... and as arrays

    def check(self, props: Mapping[str, Any]) -> None:
        """The schema's checks, CloudFormation's "Properties validation failed" messages."""
        for key in props:
            if key not in self.properties:
                raise PropertyError(f"#: extraneous key [{key}] is not permitted")
        for key in self.required:
            if key not in props:
                raise PropertyError(f"#: required key [{key}] not found")
        for key, value in props.items():
            if key in self.objects and not isinstance(value, dict):
                raise PropertyError(f"#/{key}: expected type: JSONObject, found: {_json_type(value)}")
            if key in self.lists and not isinstance(value, list):
                raise PropertyError(f"#/{key}: expected type: JSONArray, found: {_json_type(value)}")
        if isinstance(props.get("Tags"), list):
            for index, tag in enumerate(props["Tags"]):
                if not isinstance(tag, dict):
                    raise PropertyError(
                        f"#/Tags/{index}: expected type: JSONObject, found: {_json_type(tag)}"
                    )
                for member in ("Key", "Value"):
                    if member not in tag:
                        raise PropertyError(f"#/Tags/{index}: required key [{member}] not found")

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        raise NotImplementedError

    def update(
        self,
        ctx: ResourceContext,
        current: Provisioned,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> Provisioned:
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise NotUpdatable(
            f"podid cannot update {', '.join(changed)} of {self.type_name} in place; "
            "replace the resource (give it a new logical id) instead."
        )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def needs_replacement(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        return sorted(k for k in self.replace_on if old.get(k) != new.get(k))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, dict):
        return "JSONObject"
    return "Null"


def tags_of(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(t["Key"]), str(t["Value"])) for t in props.get("Tags") or () if isinstance(t, dict)]


def tag_map(props: Mapping[str, Any]) -> dict[str, str]:
    """EKS-style tags: a list of {Key, Value} (EKS resource schemas) or a plain map."""
    raw = props.get("Tags")
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return dict(tags_of(props))


def tag_context(tags: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    if not tags:
        return {}
    ctx: dict[str, str | list[str]] = {f"aws:RequestTag/{k}": v for k, v in tags}
    ctx["aws:TagKeys"] = [k for k, _ in tags]
    return ctx


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PropertyError(f"#/{name}: expected type: Integer, found: String") from None


def string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PropertyError(f"#/{name}: expected type: JSONArray, found: {type(value).__name__}")
    return [str(v) for v in value]
