"""Planning a stack operation: template + parameter values -> the resources to provision, in order.

`make_plan` does everything CloudFormation does before it touches a resource, and raises the same
ValidationErrors at API time: the template's structure, the parameters and their constraints, the
conditions, dependency order and cycles, `Fn::GetAtt` attributes that the type does not have, and
the capabilities an IAM resource needs (`InsufficientCapabilitiesException`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podid.errors import ClientError, ValidationError
from podid.services.cloudformation import parameters as params_mod
from podid.services.cloudformation.graph import creation_order, dependencies
from podid.services.cloudformation.intrinsics import Scope
from podid.services.cloudformation.resources.base import ResourceHandler
from podid.services.cloudformation.template import Template, load_template, sub_names, walk

CAPABILITY_IAM = "CAPABILITY_IAM"
CAPABILITY_NAMED_IAM = "CAPABILITY_NAMED_IAM"
CAPABILITY_AUTO_EXPAND = "CAPABILITY_AUTO_EXPAND"


class InsufficientCapabilities(ClientError):
    code = "InsufficientCapabilitiesException"


def partition_of(region: str) -> tuple[str, str]:
    """(partition, URL suffix) of a region."""
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


@dataclass
class Plan:
    template: Template
    text: str
    values: dict[str, str]  # parameter values as strings
    scope: Scope
    order: list[str]  # enabled resources, in creation order
    graph: dict[str, list[str]]
    no_echo: list[str]

    def declaration(self, logical_id: str) -> Mapping[str, Any]:
        return self.template.resources[logical_id]


def pseudo_parameters(
    account: str, region: str, stack_name: str, stack_id: str, notification_arns: Sequence[str] = ()
) -> dict[str, Any]:
    partition, suffix = partition_of(region)
    return {
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Partition": partition,
        "AWS::URLSuffix": suffix,
        "AWS::NotificationARNs": list(notification_arns),
    }


def make_plan(
    text: str,
    given: Sequence[params_mod.ParameterInput],
    *,
    previous: Mapping[str, str] | None,
    capabilities: Sequence[str],
    handlers: Mapping[str, ResourceHandler],
    pseudo: Mapping[str, Any],
    check_capabilities: bool = True,
) -> Plan:
    template = load_template(text)
    values = params_mod.resolve_parameters(template.parameters, given, previous)
    typed = {name: params_mod.typed_value(template.parameters[name], value) for name, value in values.items()}
    scope = Scope(template=template, params=typed, pseudo=pseudo)
    scope.evaluate_conditions()
    enabled = [
        name
        for name, decl in template.resources.items()
        if decl.get("Condition") is None or scope.condition(str(decl["Condition"]))
    ]
    graph = {name: dependencies(template.resources[name], enabled) for name in enabled}
    order = creation_order(graph)
    check_attributes(template, enabled, handlers)
    if check_capabilities:
        check_iam_capabilities(template, enabled, handlers, capabilities)
    no_echo = [n for n, d in template.parameters.items() if params_mod.no_echo(d)]
    return Plan(template, text, values, scope, order, graph, no_echo)


def check_attributes(
    template: Template, enabled: Sequence[str], handlers: Mapping[str, ResourceHandler]
) -> None:
    """`Fn::GetAtt` of an attribute the target's type does not have fails before any change."""
    wanted: list[tuple[str, str]] = []
    for name in enabled:
        for fn, arg in walk(template.resources[name].get("Properties") or {}):
            wanted.extend(_attribute_refs(fn, arg))
    for decl in template.outputs.values():
        for fn, arg in walk(decl):
            wanted.extend(_attribute_refs(fn, arg))
    for logical, attribute in wanted:
        target = template.resources.get(logical)
        if target is None:
            continue
        handler = handlers.get(str(target["Type"]))
        if handler is not None and attribute not in handler.attributes:
            raise ValidationError(
                f"Template error: resource {logical} does not support attribute type {attribute} "
                "in Fn::GetAtt"
            )


def _attribute_refs(fn: str, arg: Any) -> list[tuple[str, str]]:
    if fn == "Fn::GetAtt":
        if isinstance(arg, str) and "." in arg:
            logical, _, attribute = arg.partition(".")
            return [(logical, attribute)]
        if isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg):
            return [(arg[0], arg[1])]
    if fn == "Fn::Sub":
        return [tuple(n.split(".", 1)) for n in sub_names(arg) if "." in n and not n.startswith("AWS::")]  # type: ignore[misc]
    return []


def required_capability(
    template: Template, enabled: Sequence[str], handlers: Mapping[str, ResourceHandler]
) -> tuple[str | None, list[str]]:
    """The capability the template needs (None, IAM or NAMED_IAM) and the types that need it."""
    needed: str | None = None
    types: list[str] = []
    for name in enabled:
        decl = template.resources[name]
        handler = handlers.get(str(decl["Type"]))
        is_iam = handler.iam if handler is not None else str(decl["Type"]).startswith("AWS::IAM::")
        if not is_iam:
            continue
        types.append(str(decl["Type"]))
        named = handler is not None and handler.name_property is not None
        if (
            named
            and handler is not None
            and (decl.get("Properties") or {}).get(handler.name_property) is not None
        ):
            needed = CAPABILITY_NAMED_IAM
        elif needed is None:
            needed = CAPABILITY_IAM
    return needed, list(dict.fromkeys(types))


def check_iam_capabilities(
    template: Template,
    enabled: Sequence[str],
    handlers: Mapping[str, ResourceHandler],
    capabilities: Sequence[str],
) -> None:
    needed, _ = required_capability(template, enabled, handlers)
    given = set(capabilities)
    if needed == CAPABILITY_NAMED_IAM and CAPABILITY_NAMED_IAM not in given:
        raise InsufficientCapabilities(f"Requires capabilities : [{CAPABILITY_NAMED_IAM}]")
    if needed == CAPABILITY_IAM and not given & {CAPABILITY_IAM, CAPABILITY_NAMED_IAM}:
        raise InsufficientCapabilities(f"Requires capabilities : [{CAPABILITY_IAM}]")


def validate_capabilities(capabilities: Sequence[str]) -> None:
    allowed = {CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND}
    for cap in capabilities:
        if cap not in allowed:
            raise ValidationError(
                f"1 validation error detected: Value '[{cap}]' at 'capabilities' failed to satisfy "
                "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                "[CAPABILITY_AUTO_EXPAND, CAPABILITY_NAMED_IAM, CAPABILITY_IAM]]"
            )


ImportLookup = Callable[[str], Any]
