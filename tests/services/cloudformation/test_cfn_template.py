"""Template reading: YAML short forms, JSON, structure checks, dependency order and cycles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podid.errors import ValidationError
from podid.services.cloudformation.graph import creation_order, dependencies
from podid.services.cloudformation.template import load_template, parse_body

SHORT_FORMS = """
Resources:
  R:
    Type: AWS::EC2::VPC
    Properties:
      A: !Ref P
      B: !GetAtt X.Arn
      C: !GetAtt [X, Nested.Attr]
      D: !Sub "${AWS::Region}-x"
      E: !Join [",", [a, b]]
      F: !Select [0, !GetAZs ""]
      G: !If [Cond, yes-value, !Ref "AWS::NoValue"]
      H: !Equals [a, b]
      I: !FindInMap [M, K, V]
      J: !Base64 text
      K: !ImportValue shared
      L: !Split [",", "a,b"]
      M: !Not [!Condition Cond]
      N: !Cidr ["10.0.0.0/16", 2, 8]
      Version: 2012-10-17
"""


def test_yaml_short_forms_become_long_forms() -> None:
    props = parse_body(SHORT_FORMS)["Resources"]["R"]["Properties"]
    assert props["A"] == {"Ref": "P"}
    assert props["B"] == {"Fn::GetAtt": ["X", "Arn"]}
    assert props["C"] == {"Fn::GetAtt": ["X", "Nested.Attr"]}
    assert props["D"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert props["E"] == {"Fn::Join": [",", ["a", "b"]]}
    assert props["F"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert props["G"] == {"Fn::If": ["Cond", "yes-value", {"Ref": "AWS::NoValue"}]}
    assert props["H"] == {"Fn::Equals": ["a", "b"]}
    assert props["I"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert props["J"] == {"Fn::Base64": "text"}
    assert props["K"] == {"Fn::ImportValue": "shared"}
    assert props["L"] == {"Fn::Split": [",", "a,b"]}
    assert props["M"] == {"Fn::Not": [{"Condition": "Cond"}]}
    assert props["N"] == {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}
    # a policy's Version stays the string IAM needs, not a date
    assert props["Version"] == "2012-10-17"


def test_json_body_is_read_as_json() -> None:
    body = {"Resources": {"V": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}}}
    assert load_template(json.dumps(body)).resources["V"]["Type"] == "AWS::EC2::VPC"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Resources: {}", "Template format error: At least one Resources member must be defined."),
        ("Foo: 1\nResources: {R: {Type: AWS::EC2::VPC}}", "Invalid template property or properties [Foo]"),
        ("Resources: {R: {Properties: {}}}", "Every Resources object must contain a Type member."),
        ("Resources: {R: {Type: Not::A::Type!}}", "Unrecognized resource types: [Not::A::Type!]"),
        ("Resources: {R: {Type: AWS::EC2::VPC, Bogus: 1}}", "Invalid template resource property 'Bogus'"),
        (
            "Resources: {R: {Type: AWS::EC2::VPC, Properties: {A: !Ref Nope}}}",
            "Unresolved resource dependencies [Nope] in the Resources block of the template",
        ),
        (
            "Resources: {R: {Type: AWS::EC2::VPC, Properties: {A: !GetAtt Nope.Arn}}}",
            "Template error: instance of Fn::GetAtt references undefined resource Nope",
        ),
        ("Resources: {R: {Type: AWS::EC2::VPC, DependsOn: Nope}}", "Unresolved resource dependencies [Nope]"),
        (
            "Parameters: {P: {Type: Strange}}\nResources: {R: {Type: AWS::EC2::VPC}}",
            "Unrecognized parameter type: Strange",
        ),
        (
            "AWSTemplateFormatVersion: '2011-01-01'\nResources: {R: {Type: AWS::EC2::VPC}}",
            "not a supported value",
        ),
        ("Resources: [unclosed", "YAML not well-formed."),
        ('{"Resources": ', "JSON not well-formed."),
        ("Resources: {R-1: {Type: AWS::EC2::VPC}}", "Resource name R-1 is non alphanumeric."),
        (
            "Resources: {R: {Type: AWS::EC2::VPC, Condition: Missing}}",
            "Unresolved condition dependencies [Missing]",
        ),
    ],
)
def test_structure_errors_are_validation_errors(body: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_template(body)
    assert message in caught.value.message
    assert caught.value.status == 400


def test_transform_is_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="Transform"):
        load_template("Transform: AWS::Serverless-2016-10-31\nResources: {R: {Type: AWS::EC2::VPC}}")


def _graph(resources: dict[str, Any]) -> dict[str, list[str]]:
    return {name: dependencies(decl, resources) for name, decl in resources.items()}


def test_dependencies_from_refs_getatt_sub_and_depends_on() -> None:
    resources: dict[str, Any] = {
        "A": {"Type": "T"},
        "B": {"Type": "T", "Properties": {"X": {"Ref": "A"}}},
        "C": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["B", "Arn"]}}},
        "D": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${C.Arn}-${AWS::Region}-${Param}"}}},
        "E": {"Type": "T", "DependsOn": ["D"]},
        "F": {"Type": "T", "Properties": {"X": {"Fn::Sub": ["${V}", {"V": "literal"}]}}},
    }
    graph = _graph(resources)
    assert graph["D"] == ["C"]
    assert graph["F"] == []
    order = creation_order(graph)
    assert order.index("A") < order.index("B") < order.index("C") < order.index("D") < order.index("E")


def test_cycle_is_reported_with_the_resources_on_it() -> None:
    resources: dict[str, Any] = {
        "Free": {"Type": "T"},
        "A": {"Type": "T", "Properties": {"X": {"Ref": "B"}}},
        "B": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["C", "Arn"]}}},
        "C": {"Type": "T", "DependsOn": "A"},
        "Waiting": {"Type": "T", "DependsOn": "A"},
    }
    with pytest.raises(ValidationError) as caught:
        creation_order(_graph(resources))
    assert caught.value.message == "Circular dependency between resources: [A, B, C]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Resources: {R: {Type: AWS::EC2::VPC, DependsOn: [1]}}", "DependsOn] must be a string or a list"),
        ("Resources: {R: {Type: AWS::EC2::VPC, Condition: [x]}}", "Condition] must be a string"),
        (
            "Resources: {R: {Type: AWS::EC2::VPC, Properties: {A: &a [*a]}}}",
            "too large once its YAML aliases",
        ),
        ("Resources: {R: {Type: AWS::EC2::VPC, Properties: {A: !!binary aGk=}}}", "unsupported YAML value"),
        (
            "Parameters: {P: {Type: String, AllowedPattern: '['}}\nResources: {R: {Type: AWS::EC2::VPC}}",
            "AllowedPattern is not a valid pattern",
        ),
        (
            "Parameters: {P: {Type: Number, MinValue: abc}}\nResources: {R: {Type: AWS::EC2::VPC}}",
            "MinValue must be a number",
        ),
    ],
)
def test_hostile_or_malformed_templates_are_refused(body: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_template(body)
    assert message in caught.value.message


def test_alias_bomb_is_refused_before_it_is_walked() -> None:
    lines = ["Resources: {R: {Type: AWS::EC2::VPC}}", "Metadata:", "  l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    with pytest.raises(ValidationError, match="too large"):
        load_template("\n".join(lines))
