"""Reading CloudFormation templates: JSON or YAML (with the short-form tags), and their structure.

`load_template(text)` parses the body (JSON when it starts with `{`, YAML otherwise) and returns a
`Template` whose sections are checked the way CloudFormation checks them before it starts a stack
operation. Failures are `ValidationError` with CloudFormation's "Template format error: ..."
messages. The YAML loader is PyYAML's safe loader with two CloudFormation rules:
- the short forms `!Ref`, `!GetAtt`, `!Sub`, ... become the long `{"Fn::...": ...}` forms
  (`!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`);
- dates are not resolved (`Version: 2012-10-17` stays the string a policy needs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from podid.errors import ValidationError

MAX_BODY = 51_200  # TemplateBody limit of the API (bytes)

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
    }
)
RESOURCE_ATTRIBUTES = frozenset(
    {
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "Metadata",
        "CreationPolicy",
        "UpdatePolicy",
    }
)
DELETION_POLICIES = frozenset({"Delete", "Retain", "RetainExceptOnCreate", "Snapshot"})
PARAMETER_KEYS = frozenset(
    {
        "Type",
        "Default",
        "AllowedValues",
        "AllowedPattern",
        "ConstraintDescription",
        "Description",
        "MaxLength",
        "MinLength",
        "MaxValue",
        "MinValue",
        "NoEcho",
    }
)
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NoValue",
        "AWS::NotificationARNs",
    }
)
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
# What CloudFormation's registry accepts as a type name; AWS::* and Custom::* are the public ones.
_TYPE_NAME = re.compile(r"^(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[A-Za-z0-9_@-]{1,60})$")

_FUNCTIONS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "GetAtt",
    "Length",
    "ToJsonString",
)


def format_error(message: str) -> ValidationError:
    return ValidationError(f"Template format error: {message}")


# --- YAML -----------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """Safe loader with CloudFormation's short-form tags and no implicit timestamps."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Template keys are strings, as in JSON: `1:`, `true:` and `null:` are the text as written
        # (the rest of the template code sorts and joins keys). A list or map as a key is no template.
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            for index, (key, value) in enumerate(node.value):
                if not isinstance(key, yaml.ScalarNode):
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a string", key.start_mark
                    )
                if key.tag != "tag:yaml.org,2002:str":
                    node.value[index] = (yaml.ScalarNode("tag:yaml.org,2002:str", key.value), value)
        return super().construct_mapping(node, deep=deep)


_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


def _function(name: str) -> Any:
    key = f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _node_value(loader, node)
        if name == "GetAtt" and isinstance(value, str):
            logical, _, attribute = value.partition(".")
            return {key: [logical, attribute]}
        return {key: value}

    return construct


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _node_value(loader, node)}


def _condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _node_value(loader, node)}


for _name in _FUNCTIONS:
    _CfnLoader.add_constructor(f"!{_name}", _function(_name))
_CfnLoader.add_constructor("!Ref", _ref)
_CfnLoader.add_constructor("!Condition", _condition)


def parse_body(text: str) -> Any:
    """The template body as a Python value (JSON or YAML)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise format_error(f"JSON not well-formed. (line {getattr(exc, 'lineno', 1)})") from None
        except RecursionError:
            raise format_error(f"the template nests values more than {MAX_DEPTH} levels deep") from None
    try:
        return yaml.load(text, Loader=_CfnLoader)
    except RecursionError:
        raise format_error(f"the template nests values more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise format_error(f"YAML not well-formed.{where}") from None


# --- the template ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    body: Mapping[str, Any]

    @property
    def description(self) -> str | None:
        value = self.body.get("Description")
        return str(value) if value is not None else None

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Any]]:
        return self.body.get("Parameters") or {}

    @property
    def mappings(self) -> Mapping[str, Any]:
        return self.body.get("Mappings") or {}

    @property
    def conditions(self) -> Mapping[str, Any]:
        return self.body.get("Conditions") or {}

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return self.body.get("Resources") or {}

    @property
    def outputs(self) -> Mapping[str, Mapping[str, Any]]:
        return self.body.get("Outputs") or {}


def load_template(text: str) -> Template:
    """Parse and check a template body; raise CloudFormation's ValidationError on a bad one."""
    if len(text.encode("utf-8")) > MAX_BODY:
        raise ValidationError(
            "1 validation error detected: Value 'templateBody' at 'templateBody' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_BODY}"
        )
    body = parse_body(text)
    if not isinstance(body, dict):
        raise format_error("not a valid template: the body must be a JSON or YAML object")
    _check_expanded_size(body)
    for section in ("Parameters", "Mappings", "Conditions", "Resources", "Outputs"):
        if isinstance(body.get(section), dict):  # YAML reads `1:` as an int; CloudFormation as "1"
            body[section] = {str(k): v for k, v in body[section].items()}
    check_structure(body)
    return Template(body)


MAX_NODES = 200_000
MAX_DEPTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_expanded_size(body: Any) -> None:
    """YAML aliases share nodes: a small body can expand to a huge (or endless) tree. Refuse those."""
    seen = 0
    deepest = 0
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        node, depth = pending.pop()
        seen += 1
        deepest = max(deepest, depth)
        if seen > MAX_NODES:
            raise format_error("the template is too large once its YAML aliases are expanded")
        if isinstance(node, dict):
            pending.extend((value, depth + 1) for value in node.values())
            pending.extend((key, depth + 1) for key in node)
        elif isinstance(node, list):
            pending.extend((item, depth + 1) for item in node)
        elif isinstance(node, str) and _SURROGATE.search(node):
            # `"\ud800"` alone in JSON or YAML: no UTF-8 response could ever carry it back
            raise format_error("the template holds a lone UTF-16 surrogate, which is not valid Unicode")
        elif node is not None and not isinstance(node, str | int | float):
            # !!binary, !!set, !!timestamp, !!omap: nothing a JSON template could say
            raise format_error(f"unsupported YAML value of type {type(node).__name__}")
    if deepest > MAX_DEPTH:
        # the stack operations walk templates recursively: refuse what no real template needs (a
        # cycle of aliases never gets here: it is endless, refused above)
        raise format_error(f"the template nests values more than {MAX_DEPTH} levels deep")


def check_structure(body: Mapping[str, Any]) -> None:
    unknown = sorted(k for k in body if k not in SECTIONS)
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    version = body.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != "2010-09-09":
        raise format_error(f"'{version}' is not a supported value for AWSTemplateFormatVersion.")
    if "Transform" in body:
        raise ValidationError(
            f"podid does not run template macros or transforms (Transform: {body['Transform']})."
        )
    for section in ("Parameters", "Mappings", "Conditions", "Outputs", "Metadata"):
        if section in body and not isinstance(body[section], dict):
            raise format_error(f"{section} must be an object")
    resources = body.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise format_error("At least one Resources member must be defined.")
    _check_parameters(body.get("Parameters") or {})
    _check_resources(resources)
    _check_outputs(body.get("Outputs") or {})
    _check_references(body)


def _check_parameters(params: Mapping[str, Any]) -> None:
    from podid.services.cloudformation.parameters import is_known_type

    for name, decl in params.items():
        if not _LOGICAL_ID.match(str(name)):
            raise format_error(f"Parameter name {name} is non alphanumeric.")
        if not isinstance(decl, dict) or "Type" not in decl:
            raise format_error(f"[/Parameters/{name}] 'Type' is a required property")
        unknown = sorted(k for k in decl if k not in PARAMETER_KEYS)
        if unknown:
            raise format_error(f"Invalid template parameter property '{unknown[0]}'")
        if not is_known_type(str(decl["Type"])):
            raise format_error(f"Unrecognized parameter type: {decl['Type']}")
        for bound in ("MinLength", "MaxLength", "MinValue", "MaxValue"):
            if bound in decl:
                try:
                    float(decl[bound])
                except (TypeError, ValueError):
                    raise format_error(f"Parameter {name}: {bound} must be a number") from None
        if "AllowedPattern" in decl:
            try:
                re.compile(str(decl["AllowedPattern"]))
            except re.error:
                raise format_error(f"Parameter {name}: AllowedPattern is not a valid pattern") from None
        if "AllowedValues" in decl and not isinstance(decl["AllowedValues"], list):
            raise format_error(f"Parameter {name}: AllowedValues must be a list")


def _check_resources(resources: Mapping[str, Any]) -> None:
    bad_types: list[str] = []
    for name, decl in resources.items():
        if not _LOGICAL_ID.match(str(name)):
            raise format_error(f"Resource name {name} is non alphanumeric.")
        if not isinstance(decl, dict) or not isinstance(decl.get("Type"), str):
            raise format_error(f"[/Resources/{name}] Every Resources object must contain a Type member.")
        for key in decl:
            if key not in RESOURCE_ATTRIBUTES:
                raise format_error(f"Invalid template resource property '{key}'")
        if "Properties" in decl and not isinstance(decl["Properties"], dict):
            raise format_error(f"[/Resources/{name}/Properties] must be an object")
        for attribute in ("Condition", "DeletionPolicy", "UpdateReplacePolicy"):
            if attribute in decl and not isinstance(decl[attribute], str):
                raise format_error(f"[/Resources/{name}/{attribute}] must be a string")
        depends = decl.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise format_error(f"[/Resources/{name}/DependsOn] must be a string or a list of strings")
        policy = decl.get("DeletionPolicy")
        if policy is not None and policy not in DELETION_POLICIES:
            raise format_error(f"Unrecognized DeletionPolicy {policy} for resource {name}")
        if not _TYPE_NAME.match(decl["Type"]):
            bad_types.append(decl["Type"])
    if bad_types:
        raise format_error(f"Unrecognized resource types: [{', '.join(sorted(set(bad_types)))}]")


def _check_outputs(outputs: Mapping[str, Any]) -> None:
    for name, decl in outputs.items():
        if not _LOGICAL_ID.match(str(name)):
            raise format_error(f"Output name {name} is non alphanumeric.")
        if not isinstance(decl, dict) or "Value" not in decl:
            raise format_error(f"Every Outputs member must contain a Value object ({name})")


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every intrinsic function application `(name, argument)` inside a template value."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                yield key, arg
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def sub_names(arg: Any) -> list[str]:
    """The `${Name}` / `${Name.Attr}` references of an Fn::Sub (minus its own variables)."""
    if isinstance(arg, list) and arg:
        text, variables = arg[0], (arg[1] if len(arg) > 1 and isinstance(arg[1], dict) else {})
    else:
        text, variables = arg, {}
    if not isinstance(text, str):
        return []
    return [m.group(1).strip() for m in _SUB_VAR.finditer(text) if m.group(1).strip() not in variables]


def _check_references(body: Mapping[str, Any]) -> None:
    params = set(body.get("Parameters") or {})
    resources = body["Resources"]
    conditions = set(body.get("Conditions") or {})
    for section in ("Resources", "Outputs"):
        missing: list[str] = []
        for name, decl in (body.get(section) or {}).items():
            cond = decl.get("Condition")
            if cond is not None and cond not in conditions:
                raise format_error(
                    f"Unresolved condition dependencies [{cond}] in the {section} block of the template"
                )
            if section == "Resources":
                depends = decl.get("DependsOn", [])
                depends = [depends] if isinstance(depends, str) else depends
                if not isinstance(depends, list):
                    raise format_error(f"DependsOn of {name} must be a string or a list of strings")
                missing.extend(d for d in depends if d not in resources)
            for fn, arg in walk(decl):
                if fn == "Ref" and isinstance(arg, str):
                    if arg not in params and arg not in resources and arg not in PSEUDO_PARAMETERS:
                        missing.append(arg)
                elif fn == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) and arg else None
                    if isinstance(target, str) and target not in resources:
                        raise ValidationError(
                            f"Template error: instance of Fn::GetAtt references undefined resource {target}"
                        )
                elif fn == "Fn::Sub":
                    for ref in sub_names(arg):
                        head = ref.split(".", 1)[0]
                        if ref not in PSEUDO_PARAMETERS and head not in params and head not in resources:
                            raise ValidationError(
                                f"Template format error: Unresolved resource dependencies [{head}] in the "
                                f"{section} block of the template"
                            )
                elif fn == "Fn::If":
                    target = arg[0] if isinstance(arg, list) and arg else None
                    if target not in conditions:
                        raise ValidationError(
                            f"Template error: unresolved condition dependency {target} in Fn::If"
                        )
        if missing:
            unique = list(dict.fromkeys(missing))
            raise format_error(
                f"Unresolved resource dependencies [{', '.join(unique)}] in the {section} block of "
                "the template"
            )
    for name, decl in (body.get("Conditions") or {}).items():
        for fn, arg in walk(decl):
            if fn == "Condition" and arg not in conditions:
                raise format_error(
                    f"Unresolved dependencies [{arg}]. Cannot reference resources in the Conditions block "
                    "of the template"
                )
            if fn == "Ref" and isinstance(arg, str) and arg in resources:
                raise format_error(
                    f"Unresolved dependencies [{arg}]. Cannot reference resources in the Conditions block "
                    "of the template"
                )
        del name
