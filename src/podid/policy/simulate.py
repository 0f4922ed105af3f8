"""The simulator's case format: JSON in, decision and explanation out (`podid iam simulate`).

A case is an object:
`{"request": {"principal", "action", "resource", "resourceAccount"?, "context"?},
  "identityPolicies"?, "resourcePolicy"?, "permissionBoundaries"?, "sessionPolicies"?,
  "serviceControlPolicies"?, "resourceControlPolicies"?}`.
Each policy is a JSON object (or a string holding one). A `resourcePolicy` without Resource or
NotResource in any statement is a role trust policy. Policies are parsed with IAM's checks, except
that an unknown condition operator is kept so that evaluation fails closed and reports it, and that
size quotas are not enforced (AWS managed policies such as ReadOnlyAccess exceed the customer
quotas; the simulator evaluates, it does not store). The context is used exactly as given: the
simulator derives nothing from the principal. `principal` must be an IAM ARN (user, role,
assumed-role session, federated user, root, an OIDC/SAML provider) or a service name, and `action`
of the form `service:Action`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from podid.errors import AwsError
from podid.policy.document import Policy, PolicyKind, compile_policy
from podid.policy.evaluate import EvaluationRequest, PolicySet, explain
from podid.policy.messages import access_denied_message
from podid.policy.principals import parse_caller

_LISTS: tuple[tuple[str, PolicyKind], ...] = (
    ("identityPolicies", "identity"),
    ("permissionBoundaries", "boundary"),
    ("sessionPolicies", "session"),
    ("serviceControlPolicies", "scp"),
    ("resourceControlPolicies", "rcp"),
)
_CASE_KEYS = frozenset(
    {"request", "resourcePolicy", "expected", "doc", "name", "note"} | {k for k, _ in _LISTS}
)
_REQUEST_KEYS = frozenset(
    {"principal", "action", "resource", "resourceAccount", "principalAccount", "context"}
)


# Built once: json.dumps with non-default arguments builds a new encoder on every call. Decoded
# JSON cannot be circular: no need to check.
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class CaseError(Exception):
    """A malformed case: the message names the problem and where it is."""


def _policy(value: Any, kind: PolicyKind, where: str) -> Policy:
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        text = _ENCODER.encode(value)  # also the cache key: a policy seen before is not re-parsed
    else:
        raise CaseError(f"{where}: a policy must be a JSON object or a string holding one")
    if kind == "resource":
        try:
            doc = json.loads(text) if isinstance(value, str) else value
        except ValueError:
            doc = None
        statements = doc.get("Statement") if isinstance(doc, dict) else None
        statements = [statements] if isinstance(statements, dict) else statements
        if isinstance(statements, list) and not any(
            isinstance(s, dict) and ("Resource" in s or "NotResource" in s) for s in statements
        ):
            kind = "trust"
    try:
        return compile_policy(text, kind, lenient_operators=True, enforce_size=False)
    except AwsError as err:
        raise CaseError(f"{where}: {err.code}: {err.message}") from None


def _principal_ok(principal: str) -> bool:
    caller = parse_caller(principal)
    if caller.kind != "other":
        return True
    # Identity providers are the callers of AssumeRoleWithWebIdentity / AssumeRoleWithSAML.
    return caller.account is not None and principal.split(":", 5)[5].startswith(
        ("oidc-provider/", "saml-provider/")
    )


def _context(value: Any) -> Mapping[str, str | Sequence[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CaseError("request.context: must be an object of strings or lists of strings")
    out: dict[str, str | Sequence[str]] = {}
    for k, v in value.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float):
            out[k] = str(v)
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out[k] = tuple(v)
        else:
            raise CaseError(f"request.context[{k!r}]: must be a string or a list of strings")
    return out


def load_case(case: Any) -> tuple[EvaluationRequest, PolicySet]:
    """The request and policies of a case (CaseError naming the problem when malformed)."""
    if not isinstance(case, dict):
        raise CaseError("a case must be a JSON object")
    unknown = sorted(set(case) - _CASE_KEYS)
    if unknown:
        raise CaseError(f"unknown field(s) in case: {', '.join(unknown)}")
    req = case.get("request")
    if not isinstance(req, dict):
        raise CaseError("request: missing or not an object")
    unknown = sorted(set(req) - _REQUEST_KEYS)
    if unknown:
        raise CaseError(f"unknown field(s) in request: {', '.join(unknown)}")
    for key in ("principal", "action", "resource"):
        if not isinstance(req.get(key), str) or not req[key]:
            raise CaseError(f"request.{key}: missing or not a non-empty string")
    if not _principal_ok(req["principal"]):
        raise CaseError(
            f"request.principal: {req['principal']!r} is neither an IAM ARN (user, role, assumed-role"
            " session, federated user, root, identity provider) nor an AWS service principal name"
            " such as pods.eks.amazonaws.com"
        )
    service, colon, name = req["action"].partition(":")
    if not colon or not service or not name or ":" in name:
        raise CaseError(f"request.action: {req['action']!r} is not of the form service:Action")
    for key in ("resourceAccount", "principalAccount"):
        if req.get(key) is not None and not isinstance(req[key], str):
            raise CaseError(f"request.{key}: must be a string")
    request = EvaluationRequest(
        principal=req["principal"],
        action=req["action"],
        resource=req["resource"],
        resource_account=req.get("resourceAccount") or None,
        context=_context(req.get("context")),
        principal_account=req.get("principalAccount") or None,
    )
    groups: dict[str, tuple[Policy, ...]] = {}
    for key, kind in _LISTS:
        value = case.get(key)
        if value is None:
            groups[key] = ()
            continue
        if not isinstance(value, list):
            raise CaseError(f"{key}: must be a list of policies")
        groups[key] = tuple(_policy(p, kind, f"{key}[{i}]") for i, p in enumerate(value))
    resource = case.get("resourcePolicy")
    policies = PolicySet(
        identity=groups["identityPolicies"],
        resource=None if resource is None else _policy(resource, "resource", "resourcePolicy"),
        boundaries=groups["permissionBoundaries"],
        session=groups["sessionPolicies"],
        scps=groups["serviceControlPolicies"],
        rcps=groups["resourceControlPolicies"],
    )
    return request, policies


def simulate_case(case: Any) -> dict[str, Any]:
    """`{"decision": ..., "explanation": {...}}` for a case (CaseError when malformed)."""
    request, policies = load_case(case)
    decision = explain(request, policies)
    explanation = decision.explanation
    if not decision.allowed:
        # The AccessDenied message the endpoint would send for this decision.
        message = access_denied_message(request.principal, request.action, request.resource, decision)
        explanation = {**explanation, "message": message}
    return {"decision": decision.decision, "explanation": explanation}


def simulate_text(text: str) -> dict[str, Any]:
    """Like `simulate_case` for JSON text (CaseError for text that is not JSON)."""
    try:
        case = json.loads(text)
    except ValueError as err:
        raise CaseError(f"not valid JSON: {err}") from None
    except RecursionError:
        raise CaseError("not valid JSON: nested too deeply") from None
    try:
        return simulate_case(case)
    except RecursionError:  # re-encoding an absurdly nested policy
        raise CaseError("a policy is nested too deeply") from None
