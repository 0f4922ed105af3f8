"""The intrinsic functions and condition functions of CloudFormation, evaluated over a `Scope`.

`resolve(value, scope)` returns the value with every function applied: Ref, Fn::GetAtt, Fn::Sub,
Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap, Fn::GetAZs, Fn::Base64, Fn::ImportValue,
Fn::Cidr, and the condition functions Fn::Equals, Fn::And, Fn::Or, Fn::Not (and `Condition`).
`AWS::NoValue` removes the property (or list item) it appears in. A resource value that is not
known yet (a change set previews what a new resource will be) is `UNKNOWN`; any string built from
it is `UNKNOWN` too, so that a preview can tell a "dynamic" change from a static one.
Errors are ValidationError with CloudFormation's "Template error: ..." messages.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podid.errors import ValidationError
from podid.services.cloudformation.template import Template


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_VALUE: Any = _Marker("AWS::NoValue")
UNKNOWN: Any = _Marker("{{unknown}}")


def template_error(message: str) -> ValidationError:
    return ValidationError(f"Template error: {message}")


def availability_zones(region: str) -> list[str]:
    """Fn::GetAZs: three zones per region (podid has no EC2 to ask), `a` to `c`."""
    return [f"{region}{suffix}" for suffix in "abc"]


@dataclass
class Scope:
    template: Template
    params: Mapping[str, Any]  # Ref values: str, or list[str] for list types
    pseudo: Mapping[str, Any]
    ref: Callable[[str], Any] = lambda name: UNKNOWN
    getatt: Callable[[str, str], Any] = lambda name, attribute: UNKNOWN
    import_value: Callable[[str], Any] = lambda name: UNKNOWN
    conditions: dict[str, bool] = field(default_factory=dict)
    evaluating: list[str] = field(default_factory=list)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            decl = self.template.conditions.get(name)
            if decl is None:
                raise template_error(f"unresolved condition dependency {name}")
            if name in self.evaluating:
                raise template_error(
                    f"Circular dependency between conditions: [{', '.join(self.evaluating)}]"
                )
            self.evaluating.append(name)
            try:
                self.conditions[name] = _truth(resolve(decl, self))
            finally:
                self.evaluating.remove(name)
        return self.conditions[name]

    def evaluate_conditions(self) -> dict[str, bool]:
        for name in self.template.conditions:
            self.condition(name)
        return dict(self.conditions)


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise template_error("a condition must evaluate to a boolean")


def _is_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, list):
        return any(_is_unknown(v) for v in value)
    return False


def _string(value: Any, where: str) -> Any:
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise template_error(f"every value of {where} must be a string")


def resolve(value: Any, scope: Scope) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            # a property may be named "Condition" (an IAM statement's): the function takes a name
            if handler is not None and (key != "Condition" or isinstance(arg, str)):
                return handler(arg, scope)
        out: dict[str, Any] = {}
        for key, item in value.items():
            resolved = resolve(item, scope)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out
    if isinstance(value, list):
        items = [resolve(item, scope) for item in value]
        return [item for item in items if item is not NO_VALUE]
    return value


def _ref(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, str):
        raise template_error("Ref must reference a valid parameter, resource or pseudo parameter")
    if arg == "AWS::NoValue":
        return NO_VALUE
    if arg in scope.pseudo:
        return scope.pseudo[arg]
    if arg in scope.params:
        return scope.params[arg]
    return scope.ref(arg)


def _getatt(arg: Any, scope: Scope) -> Any:
    if isinstance(arg, str):
        logical, _, attribute = arg.partition(".")
        arg = [logical, attribute]
    if not isinstance(arg, list) or len(arg) != 2:
        raise template_error("Fn::GetAtt requires a list of [LogicalName, AttributeName]")
    attribute = resolve(arg[1], scope)
    if not isinstance(arg[0], str) or not isinstance(attribute, str):
        raise template_error("Fn::GetAtt requires string arguments")
    return scope.getatt(arg[0], attribute)


def _sub(arg: Any, scope: Scope) -> Any:
    if isinstance(arg, list):
        if len(arg) != 2 or not isinstance(arg[0], str) or not isinstance(arg[1], dict):
            raise template_error("Fn::Sub requires a string or [String, {Variables}]")
        text, variables = arg[0], {k: resolve(v, scope) for k, v in arg[1].items()}
    elif isinstance(arg, str):
        text, variables = arg, {}
    else:
        raise template_error("Fn::Sub requires a string or [String, {Variables}]")
    out: list[str] = []
    unknown = False
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.find("}", start)
        if end < 0:
            out.append(text[start:])
            break
        name = text[start + 2 : end]
        if name.startswith("!"):  # ${!Literal} writes ${Literal}
            out.append("${" + name[1:] + "}")
        else:
            name = name.strip()
            if name in variables:
                value = variables[name]
            elif "." in name and name not in scope.pseudo:
                logical, _, attribute = name.partition(".")
                value = scope.getatt(logical, attribute)
            else:
                value = _ref(name, scope)
            value = _string(value, "Fn::Sub")
            if value is UNKNOWN:
                unknown = True
            else:
                out.append(value)
        i = end + 1
    return UNKNOWN if unknown else "".join(out)


def _join(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) != 2:
        raise template_error("Fn::Join requires a list of [Delimiter, [Values]]")
    delimiter = resolve(arg[0], scope)
    items = resolve(arg[1], scope)
    if not isinstance(delimiter, str) or not isinstance(items, list):
        raise template_error("Fn::Join requires a string delimiter and a list of values")
    parts = [_string(item, "Fn::Join") for item in items]
    if any(p is UNKNOWN for p in parts):
        return UNKNOWN
    return delimiter.join(parts)


def _select(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) != 2:
        raise template_error("Fn::Select requires a list of [Index, [Values]]")
    index = resolve(arg[0], scope)
    items = resolve(arg[1], scope)
    if items is UNKNOWN:
        return UNKNOWN
    try:
        position = int(index)
    except (TypeError, ValueError):
        raise template_error("Fn::Select index must be an integer") from None
    if not isinstance(items, list):
        raise template_error("Fn::Select requires a list of values")
    if not 0 <= position < len(items):
        raise template_error(f"Fn::Select cannot select nonexistent value at index {position}")
    return items[position]


def _split(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) != 2:
        raise template_error("Fn::Split requires a list of [Delimiter, String]")
    delimiter = resolve(arg[0], scope)
    text = resolve(arg[1], scope)
    if text is UNKNOWN:
        return UNKNOWN
    if not isinstance(delimiter, str) or not delimiter or not isinstance(text, str):
        raise template_error("Fn::Split requires a non-empty string delimiter and a string")
    return text.split(delimiter)


def _if(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) != 3 or not isinstance(arg[0], str):
        raise template_error("Fn::If requires a list of [ConditionName, ValueIfTrue, ValueIfFalse]")
    if arg[0] not in scope.template.conditions:
        raise template_error(f"unresolved condition dependency {arg[0]} in Fn::If")
    return resolve(arg[1] if scope.condition(arg[0]) else arg[2], scope)


def _equals(arg: Any, scope: Scope) -> bool:
    if not isinstance(arg, list) or len(arg) != 2:
        raise template_error("Fn::Equals requires a list of two values")
    left, right = (resolve(a, scope) for a in arg)
    return bool(_canonical(left) == _canonical(right))


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _conditions(name: str, arg: Any, scope: Scope) -> list[bool]:
    if not isinstance(arg, list):
        raise template_error(f"{name} requires a list of conditions")
    return [_truth(resolve(a, scope)) for a in arg]


def _and(arg: Any, scope: Scope) -> bool:
    values = _conditions("Fn::And", arg, scope)
    if not 2 <= len(values) <= 10:
        raise template_error("Fn::And requires between 2 and 10 conditions")
    return all(values)


def _or(arg: Any, scope: Scope) -> bool:
    values = _conditions("Fn::Or", arg, scope)
    if not 2 <= len(values) <= 10:
        raise template_error("Fn::Or requires between 2 and 10 conditions")
    return any(values)


def _not(arg: Any, scope: Scope) -> bool:
    values = _conditions("Fn::Not", arg, scope)
    if len(values) != 1:
        raise template_error("Fn::Not requires a list of one condition")
    return not values[0]


def _condition(arg: Any, scope: Scope) -> bool:
    if not isinstance(arg, str):
        raise template_error("Condition requires a condition name")
    return scope.condition(arg)


def _find_in_map(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) != 3:
        raise template_error("Fn::FindInMap requires a list of [MapName, TopLevelKey, SecondLevelKey]")
    names = [resolve(a, scope) for a in arg]
    names = [_string(n, "Fn::FindInMap") for n in names]
    if any(n is UNKNOWN for n in names):
        return UNKNOWN
    mapping = scope.template.mappings.get(names[0])
    if not isinstance(mapping, dict):
        raise template_error(f"Unable to get mapping for {names[0]}::{names[1]}::{names[2]}")
    top = mapping.get(names[1])
    if not isinstance(top, dict) or names[2] not in top:
        raise template_error(f"Unable to get mapping for {names[0]}::{names[1]}::{names[2]}")
    return top[names[2]]


def _get_azs(arg: Any, scope: Scope) -> Any:
    region = resolve(arg, scope)
    if region in ("", None):
        region = scope.pseudo["AWS::Region"]
    if not isinstance(region, str):
        raise template_error("Fn::GetAZs requires a region name")
    return availability_zones(region)


def _base64(arg: Any, scope: Scope) -> Any:
    text = _string(resolve(arg, scope), "Fn::Base64")
    if text is UNKNOWN:
        return UNKNOWN
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _import_value(arg: Any, scope: Scope) -> Any:
    name = _string(resolve(arg, scope), "Fn::ImportValue")
    if name is UNKNOWN:
        return UNKNOWN
    return scope.import_value(name)


def _cidr(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) != 3:
        raise template_error("Fn::Cidr requires a list of [IpBlock, Count, CidrBits]")
    block, count, bits = (resolve(a, scope) for a in arg)
    if _is_unknown([block, count, bits]):
        return UNKNOWN
    try:
        network = ipaddress.ip_network(str(block), strict=False)
        size = network.max_prefixlen - int(bits)
        subnets = network.subnets(new_prefix=size)
        out = [str(next(subnets)) for _ in range(int(count))]
    except (ValueError, StopIteration):
        raise template_error(f"Fn::Cidr cannot divide {block} into {count} blocks of {bits} bits") from None
    return out


def _length(arg: Any, scope: Scope) -> Any:
    items = resolve(arg, scope)
    if items is UNKNOWN:
        return UNKNOWN
    if not isinstance(items, list):
        raise template_error("Fn::Length requires a list")
    return len(items)


def _to_json_string(arg: Any, scope: Scope) -> Any:
    value = resolve(arg, scope)
    if _is_unknown(value):
        return UNKNOWN
    return json.dumps(value, separators=(",", ":"))


_FUNCTIONS: Mapping[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _getatt,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Fn::Not": _not,
    "Condition": _condition,
    "Fn::FindInMap": _find_in_map,
    "Fn::GetAZs": _get_azs,
    "Fn::Base64": _base64,
    "Fn::ImportValue": _import_value,
    "Fn::Cidr": _cidr,
    "Fn::Length": _length,
    "Fn::ToJsonString": _to_json_string,
}


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False
