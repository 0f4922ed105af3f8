"""Template parameters: their types, the values a stack operation supplies, and their constraints.

Values arrive as strings (the API's `ParameterValue`); a `List<...>` or `CommaDelimitedList`
parameter resolves to a list of strings, everything else to a string. `AWS::EC2::*` types (and
lists of them) are accepted and kept as the strings given: podid has no EC2 to check them against.
`AWS::SSM::Parameter::*` types need Parameter Store, which podid does not have: such a template is
refused with a ValidationError that says so. Messages are CloudFormation's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podid.errors import ValidationError

_PLAIN = frozenset({"String", "Number", "CommaDelimitedList", "List<Number>"})
_EC2 = frozenset(
    {
        "AWS::EC2::AvailabilityZone::Name",
        "AWS::EC2::Image::Id",
        "AWS::EC2::Instance::Id",
        "AWS::EC2::KeyPair::KeyName",
        "AWS::EC2::SecurityGroup::GroupName",
        "AWS::EC2::SecurityGroup::Id",
        "AWS::EC2::Subnet::Id",
        "AWS::EC2::Volume::Id",
        "AWS::EC2::VPC::Id",
        "AWS::Route53::HostedZone::Id",
    }
)
MASK = "****"


def is_known_type(type_name: str) -> bool:
    if type_name in _PLAIN or type_name in _EC2:
        return True
    if type_name.startswith("List<") and type_name.endswith(">"):
        return type_name[5:-1] in _EC2
    return type_name.startswith("AWS::SSM::Parameter::")


def is_list_type(type_name: str) -> bool:
    return type_name == "CommaDelimitedList" or type_name.startswith("List<")


@dataclass(frozen=True)
class ParameterInput:
    key: str
    value: str | None = None
    use_previous: bool = False


def inputs_from_api(raw: Sequence[Mapping[str, Any]] | None) -> list[ParameterInput]:
    out: list[ParameterInput] = []
    for item in raw or ():
        out.append(
            ParameterInput(
                key=str(item.get("ParameterKey", "")),
                value=item.get("ParameterValue"),
                use_previous=bool(item.get("UsePreviousValue", False)),
            )
        )
    return out


def resolve_parameters(
    declared: Mapping[str, Mapping[str, Any]],
    given: Sequence[ParameterInput],
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The string value of every declared parameter, checked against its constraints."""
    unknown = [p.key for p in given if p.key not in declared]
    if unknown:
        raise ValidationError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, str] = {}
    by_key = {p.key: p for p in given}
    missing: list[str] = []
    for name, decl in declared.items():
        item = by_key.get(name)
        if item is not None and item.use_previous:
            if previous is None or name not in previous:
                raise ValidationError(
                    f"Invalid input for parameter key {name}. Cannot specify usePreviousValue as true for "
                    "a parameter key not in the previous template"
                )
            values[name] = previous[name]
        elif item is not None and item.value is not None:
            values[name] = str(item.value)
        elif "Default" in decl:
            default = decl["Default"]
            values[name] = ",".join(map(str, default)) if isinstance(default, list) else _text(default)
        else:
            missing.append(name)
    if missing:
        raise ValidationError(f"Parameters: [{', '.join(missing)}] must have values")
    for name, decl in declared.items():
        _check(name, decl, values[name])
    return values


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _check(name: str, decl: Mapping[str, Any], value: str) -> None:
    type_name = str(decl["Type"])
    if type_name.startswith("AWS::SSM::Parameter::"):
        raise ValidationError(
            f"Parameter '{name}' has type {type_name}: podid has no Systems Manager Parameter Store."
        )
    items = [v.strip() for v in value.split(",")] if is_list_type(type_name) else [value]
    numeric = type_name in ("Number", "List<Number>")
    hint = decl.get("ConstraintDescription")
    for item in items:
        if numeric and _number(item) is None:
            raise ValidationError(f"Parameter '{name}' must be a number.")
        allowed = decl.get("AllowedValues")
        if allowed is not None and item not in [_text(a) for a in allowed]:
            raise ValidationError(hint or f"Parameter '{name}' must be one of AllowedValues")
        pattern = decl.get("AllowedPattern")
        if pattern is not None and re.fullmatch(str(pattern), item) is None:
            raise ValidationError(hint or f"Parameter '{name}' must match pattern {pattern}")
        if "MinLength" in decl and len(item) < float(decl["MinLength"]):
            raise ValidationError(
                hint or f"Parameter '{name}' must contain at least {decl['MinLength']} characters"
            )
        if "MaxLength" in decl and len(item) > float(decl["MaxLength"]):
            raise ValidationError(
                hint or f"Parameter '{name}' must contain at most {decl['MaxLength']} characters"
            )
        number = _number(item)
        if number is not None and "MinValue" in decl and number < float(decl["MinValue"]):
            raise ValidationError(
                hint or f"Parameter '{name}' must be a number not less than {decl['MinValue']}"
            )
        if number is not None and "MaxValue" in decl and number > float(decl["MaxValue"]):
            raise ValidationError(
                hint or f"Parameter '{name}' must be a number not greater than {decl['MaxValue']}"
            )


def typed_value(decl: Mapping[str, Any], value: str) -> str | list[str]:
    """What `Ref` to the parameter gives: a list for list types, the string otherwise."""
    if is_list_type(str(decl["Type"])):
        return [v.strip() for v in value.split(",")] if value else []
    return value


def no_echo(decl: Mapping[str, Any]) -> bool:
    return _text(decl.get("NoEcho", "false")).lower() == "true"
