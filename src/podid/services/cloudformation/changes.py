"""A change set's preview: what executing it would add, modify (in place or by replacement) or remove.

Properties are resolved against the stack as it is; a value that depends on a resource the change
set adds or replaces is not known yet, and a property holding one is a "Dynamic" change whose
replacement is "Conditional" when the property forces replacement (as CloudFormation reports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podid.services.cloudformation.intrinsics import UNKNOWN, contains_unknown, resolve
from podid.services.cloudformation.model import Stack
from podid.services.cloudformation.plan import Plan
from podid.services.cloudformation.resources.base import ResourceHandler


def _change(
    action: str, logical_id: str, type_name: str, physical_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": type_name}
    if physical_id:
        change["PhysicalResourceId"] = physical_id
    change.update(extra)
    return {"Type": "Resource", "ResourceChange": change}


def preview(
    stack: Stack, plan: Plan, handlers: Mapping[str, ResourceHandler], exports: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    changing: set[str] = set()

    def ref(name: str) -> Any:
        record = stack.resources.get(name)
        return UNKNOWN if record is None or name in changing else record.ref_value

    def getatt(name: str, attribute: str) -> Any:
        record = stack.resources.get(name)
        return UNKNOWN if record is None or name in changing else record.attributes.get(attribute, UNKNOWN)

    def import_value(name: str) -> Any:
        value = exports(name)
        return UNKNOWN if value is None else value

    plan.scope.ref, plan.scope.getatt, plan.scope.import_value = ref, getatt, import_value
    out: list[dict[str, Any]] = []
    for logical_id in plan.order:
        decl = plan.declaration(logical_id)
        type_name = str(decl["Type"])
        record = stack.resources.get(logical_id)
        if record is None:
            changing.add(logical_id)
            out.append(_change("Add", logical_id, type_name, Scope=[], Details=[]))
            continue
        props = resolve(decl.get("Properties") or {}, plan.scope)
        if record.type != type_name:
            changing.add(logical_id)
            out.append(
                _change(
                    "Modify",
                    logical_id,
                    type_name,
                    record.physical_id,
                    Replacement="True",
                    Scope=["Properties"],
                    Details=[],
                )
            )
            continue
        if props == record.props:
            continue
        handler = handlers.get(type_name)
        replace_keys = (
            {k.split(".", 1)[0] for k in handler.needs_replacement(record.props, props)} if handler else set()
        )
        details: list[dict[str, Any]] = []
        static_replace = dynamic_replace = False
        for key in sorted(set(props) | set(record.props)):
            new, old = props.get(key), record.props.get(key)
            if new == old:
                continue
            dynamic = contains_unknown(new)
            forces = key in replace_keys
            static_replace |= forces and not dynamic
            dynamic_replace |= forces and dynamic
            details.append(
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": key,
                        "RequiresRecreation": "Always" if forces else "Never",
                    },
                    "Evaluation": "Dynamic" if dynamic else "Static",
                    "ChangeSource": "ResourceReference" if dynamic else "DirectModification",
                }
            )
        replacement = "True" if static_replace else "Conditional" if dynamic_replace else "False"
        if replacement != "False":
            changing.add(logical_id)
        out.append(
            _change(
                "Modify",
                logical_id,
                type_name,
                record.physical_id,
                Replacement=replacement,
                Scope=["Properties"],
                Details=details,
            )
        )
    for logical_id, record in stack.resources.items():
        if logical_id not in plan.order:
            out.append(_change("Remove", logical_id, record.type, record.physical_id, Scope=[], Details=[]))
    return out
