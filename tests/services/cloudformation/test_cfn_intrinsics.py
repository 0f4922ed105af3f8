"""Intrinsic and condition functions, pseudo parameters and parameter constraints (pure)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from podid.errors import ValidationError
from podid.services.cloudformation.intrinsics import UNKNOWN, Scope, resolve
from podid.services.cloudformation.parameters import ParameterInput, resolve_parameters, typed_value
from podid.services.cloudformation.plan import pseudo_parameters
from podid.services.cloudformation.template import load_template

TEMPLATE = """
Parameters:
  Env: {Type: String, Default: prod, AllowedValues: [prod, dev]}
  Subnets: {Type: List<AWS::EC2::Subnet::Id>, Default: "subnet-1,subnet-2"}
  Count: {Type: Number, Default: 3}
Mappings:
  Sizes:
    prod: {Nodes: 5}
    dev: {Nodes: 1}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [a, a]]
  Either: !Or [!Condition IsDev, !Equals [a, b]]
Resources:
  Role: {Type: AWS::IAM::Role}
"""


def _scope(**params: str) -> Scope:
    template = load_template(TEMPLATE)
    values = resolve_parameters(template.parameters, [ParameterInput(k, v) for k, v in params.items()])
    typed = {k: typed_value(template.parameters[k], v) for k, v in values.items()}
    refs = {"Role": "my-role"}
    attrs = {("Role", "Arn"): "arn:aws:iam::111122223333:role/my-role"}
    return Scope(
        template=template,
        params=typed,
        pseudo=pseudo_parameters("111122223333", "eu-west-1", "stk", "arn:stack/stk/1"),
        ref=lambda name: refs.get(name, UNKNOWN),
        getatt=lambda name, attribute: attrs.get((name, attribute), UNKNOWN),
        import_value=lambda name: {"net-vpc": "vpc-123"}[name],
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"Ref": "Env"}, "prod"),
        ({"Ref": "Subnets"}, ["subnet-1", "subnet-2"]),
        ({"Ref": "Count"}, "3"),
        ({"Ref": "Role"}, "my-role"),
        ({"Ref": "AWS::AccountId"}, "111122223333"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Fn::GetAtt": ["Role", "Arn"]}, "arn:aws:iam::111122223333:role/my-role"),
        ({"Fn::GetAtt": "Role.Arn"}, "arn:aws:iam::111122223333:role/my-role"),
        (
            {"Fn::Sub": "${AWS::StackName}-${Env}-${Role}-${Role.Arn}"},
            "stk-prod-my-role-arn:aws:iam::111122223333:role/my-role",
        ),
        ({"Fn::Sub": ["${A}/${!Literal}", {"A": {"Ref": "Env"}}]}, "prod/${Literal}"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, "c"]]}, "a-prod-c"),
        ({"Fn::Join": [",", {"Ref": "Subnets"}]}, "subnet-1,subnet-2"),
        ({"Fn::Select": ["1", {"Ref": "Subnets"}]}, "subnet-2"),
        ({"Fn::Split": ["|", "a|b|c"]}, ["a", "b", "c"]),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["IsDev", "big", "small"]}, "small"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Nodes"]}, 5),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::Base64": "hi"}, base64.b64encode(b"hi").decode()),
        ({"Fn::ImportValue": "net-vpc"}, "vpc-123"),
        ({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
        ({"Fn::Equals": ["1", 1]}, True),
    ],
)
def test_functions(expr: dict[str, Any], expected: Any) -> None:
    assert resolve(expr, _scope()) == expected


def test_conditions_follow_parameters() -> None:
    assert _scope().evaluate_conditions() == {"IsProd": True, "IsDev": False, "Both": True, "Either": False}
    assert _scope(Env="dev").evaluate_conditions() == {
        "IsProd": False,
        "IsDev": True,
        "Both": False,
        "Either": True,
    }


def test_no_value_removes_the_property_and_list_item() -> None:
    value = {
        "Keep": 1,
        "Drop": {"Fn::If": ["IsDev", "x", {"Ref": "AWS::NoValue"}]},
        "L": ["a", {"Ref": "AWS::NoValue"}],
    }
    assert resolve(value, _scope()) == {"Keep": 1, "L": ["a"]}


def test_a_policy_condition_property_is_not_a_function() -> None:
    statement = {"Condition": {"StringEquals": {"aws:username": "x"}}}
    assert resolve(statement, _scope()) == statement


def test_unknown_values_propagate_through_strings() -> None:
    assert resolve({"Fn::Sub": "${Later}-x"}, _scope()) is UNKNOWN
    assert resolve({"Fn::Join": ["", ["a", {"Fn::GetAtt": ["Later", "Arn"]}]]}, _scope()) is UNKNOWN


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"Fn::Select": [5, ["a"]]}, "Fn::Select cannot select nonexistent value at index 5"),
        ({"Fn::FindInMap": ["Sizes", "qa", "Nodes"]}, "Unable to get mapping for Sizes::qa::Nodes"),
        ({"Fn::If": ["Nope", 1, 2]}, "unresolved condition dependency Nope in Fn::If"),
        ({"Fn::Join": ["-"]}, "Fn::Join requires"),
    ],
)
def test_function_errors(expr: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve(expr, _scope())
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([ParameterInput("Env", "qa")], "Parameter 'Env' must be one of AllowedValues"),
        ([ParameterInput("Count", "many")], "Parameter 'Count' must be a number."),
        ([ParameterInput("Nope", "x")], "Parameters: [Nope] do not exist in the template"),
    ],
)
def test_parameter_constraints(given: list[ParameterInput], message: str) -> None:
    template = load_template(TEMPLATE)
    with pytest.raises(ValidationError) as caught:
        resolve_parameters(template.parameters, given)
    assert caught.value.message == message


def test_parameter_without_default_must_have_a_value() -> None:
    template = load_template(
        "Parameters: {A: {Type: String}, B: {Type: String}}\nResources: {R: {Type: AWS::EC2::VPC}}"
    )
    with pytest.raises(ValidationError) as caught:
        resolve_parameters(template.parameters, [])
    assert caught.value.message == "Parameters: [A, B] must have values"


def test_use_previous_value() -> None:
    template = load_template(TEMPLATE)
    values = resolve_parameters(
        template.parameters, [ParameterInput("Env", use_previous=True)], {"Env": "dev"}
    )
    assert values["Env"] == "dev"


def test_circular_conditions_are_an_error() -> None:
    template = load_template(
        "Conditions: {A: !Condition B, B: !Not [!Condition A]}\nResources: {R: {Type: AWS::EC2::VPC}}"
    )
    scope = Scope(template=template, params={}, pseudo={})
    with pytest.raises(ValidationError, match="Circular dependency between conditions"):
        scope.evaluate_conditions()
