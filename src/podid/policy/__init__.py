"""The IAM policy language: parse and validate documents once, evaluate requests as AWS does.

A pure library (no I/O, no heavy imports): the gateway authorizes every request with `evaluate`,
IAM and STS validate documents with `parse_policy`, and `podid iam simulate` drives it from JSON.
"""

from __future__ import annotations

from podid.policy.document import Policy, PolicyKind, Statement, compile_policy, parse_policy
from podid.policy.errors import MalformedPolicyDocument, PolicySizeExceeded
from podid.policy.evaluate import Decision, DecisionValue, EvaluationRequest, PolicySet, evaluate, explain
from podid.policy.messages import access_denied_message

__all__ = [
    "Decision",
    "DecisionValue",
    "EvaluationRequest",
    "MalformedPolicyDocument",
    "Policy",
    "PolicyKind",
    "PolicySet",
    "PolicySizeExceeded",
    "Statement",
    "access_denied_message",
    "compile_policy",
    "evaluate",
    "explain",
    "parse_policy",
]
