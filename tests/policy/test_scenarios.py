"""Every scenario file case, run through the simulator's case loader and the engine."""

from __future__ import annotations

import json

import pytest

from podid.policy import MalformedPolicyDocument, PolicySizeExceeded, parse_policy
from podid.policy.simulate import simulate_case
from tests.policy.scenario_loader import Scenario, load_scenarios

SCENARIOS = load_scenarios()
_CASE_FIELDS = ("expected", "deciding", "name", "doc", "note")


def test_there_are_at_least_400_scenarios() -> None:
    assert len(SCENARIOS) >= 400


def test_every_scenario_names_its_aws_page() -> None:
    missing = [s.id for s in SCENARIOS if "docs.aws.amazon.com" not in s.doc]
    assert missing == []


def _sized_policy(kind: str, chars: int, padding: int = 0) -> str:
    """A valid policy of `kind` with exactly `chars` characters that are not whitespace, followed by
    `padding` spaces inside the document."""
    if kind == "trust":
        head = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},'
        head += '"Action":"sts:AssumeRole","Sid":"'
    else:
        head = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",'
        head += '"Resource":"arn:aws:s3:::b/'
    tail = '"}]' + " " * padding + "}"
    text = head + "x" * (chars - len(head) - len(tail) + padding) + tail
    assert sum(1 for ch in text if not ch.isspace()) == chars
    return text


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    body = scenario.body
    if scenario.kind == "validation":
        if "policy_size" in body:
            text = _sized_policy(**body["policy_size"])
        else:
            text = body["policy"] if isinstance(body["policy"], str) else json.dumps(body["policy"])
        kwargs = {"managed": bool(body.get("managed", False))}
        if "error" in body:
            with pytest.raises((MalformedPolicyDocument, PolicySizeExceeded)) as info:
                parse_policy(text, body.get("kind", "identity"), **kwargs)
            assert info.value.message == body["error"]
            assert info.value.code == body.get("code", "MalformedPolicyDocument")
        else:
            assert body["valid"] is True
            parse_policy(text, body.get("kind", "identity"), **kwargs)
        return
    case = {k: v for k, v in body.items() if k not in _CASE_FIELDS}
    result = simulate_case(case)
    explanation = result["explanation"]
    assert result["decision"] == body["expected"], json.dumps(explanation, indent=1)
    if "deciding" in body:
        assert explanation["deciding"] == body["deciding"], json.dumps(explanation, indent=1)
