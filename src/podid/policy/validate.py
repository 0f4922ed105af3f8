"""IAM's checks of a policy document, with IAM's messages, in IAM's order of checks.

The order was learned from IAM's answers (the message IAM sends for a document with several faults):

1. size over the kind's quota: `PolicySizeExceeded` (IAM's LimitExceeded, whitespace not counted);
2. `Syntax errors in policy.`: not JSON, not an object, unknown top-level or statement element, a
   Version other than 2008-10-17/2012-10-17, an empty Statement, an element of the wrong type, both
   Action and NotAction (Resource/NotResource, Principal/NotPrincipal), a missing or unknown Effect,
   an unknown condition operator (unless `lenient_operators`, used by the simulator, which keeps it so
   that evaluation fails closed and reports it);
3. `Policy document must be version 2012-10-17 or greater.` for managed policies (CreatePolicy)
   without Version 2012-10-17; inline, trust and resource policies accept a missing Version and are
   then evaluated as 2008-10-17 (no policy variables);
4. `The policy failed legacy parsing`: Effect not exactly `Allow`/`Deny`, an unparsable Date value;
5. `Statement IDs (SID) in a single policy must be unique.`;
6. `Policy statement must contain actions.`;
7. Resource format (`Resource X must be in ARN format or "*".`, `Partition "p" is not valid ...`,
   `Resource vendor must be fully qualified and cannot contain regexes.`);
8. action vendors (`Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.`,
   `Actions/Condition can contain only one colon.`, `Vendor X is not valid`); condition keys need a
   vendor too;
9. per kind: `Policy statement must contain resources.` (identity, boundary, session, SCP, resource,
   RCP), `Has prohibited field Resource.` (trust), trust actions limited to STS, `Policy document
   should not specify a principal.` (identity, boundary, session, SCP), `Missing required field
   Principal` (trust, resource, RCP), `Invalid principal in policy: "AWS":"x"`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from podid.policy.conditions import parse_instant, parse_operator
from podid.policy.errors import MalformedPolicyDocument, PolicySizeExceeded
from podid.policy.principals import principal_entry

# Characters, whitespace not counted (IAM quotas page). Inline identity policies default to the role
# quota; pass max_chars=2048 (user) or 5120 (group) for those.
SIZE_LIMITS: Mapping[str, int] = {
    "identity": 10_240,
    "managed": 6_144,
    "trust": 2_048,
    "boundary": 6_144,
    "session": 2_048,
    "scp": 5_120,
    "rcp": 5_120,
    "resource": 20_480,
}

_TOP = frozenset({"Version", "Id", "Statement"})
_STATEMENT = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"})
_VENDOR_BAD = re.compile(r"[^a-zA-Z0-9\-.]")
_VENDOR_MESSAGE = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
_NO_PRINCIPAL_KINDS = frozenset({"identity", "boundary", "session", "scp"})
_TRUST_ACTION = re.compile(r"^(sts:[a-z*?]+|\*)$", re.IGNORECASE)


def validate_document(
    text: str,
    kind: str,
    *,
    managed: bool = False,
    max_chars: int | None = None,
    enforce_size: bool = True,
    lenient_operators: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """The checked document, its statements (always a list) and its Version ("2008-10-17" when the
    document has none); `MalformedPolicyDocument` or `PolicySizeExceeded` as IAM sends them."""
    if not isinstance(text, str):
        raise _syntax()
    if enforce_size:
        _check_size(text, kind, managed, max_chars)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _syntax() from None
    raw_statements = _check_syntax(doc, lenient_operators)
    version = doc.get("Version", "2008-10-17")
    if managed and version != "2012-10-17":
        raise MalformedPolicyDocument("Policy document must be version 2012-10-17 or greater.")
    for st in raw_statements:
        if st["Effect"] not in ("Allow", "Deny"):
            raise MalformedPolicyDocument("The policy failed legacy parsing")
        for op, block in st.get("Condition", {}).items():
            if parse_operator(op).base.startswith("Date"):
                for v in block.values():
                    if any(parse_instant(x) is None for x in condition_values(v)):
                        raise MalformedPolicyDocument("The policy failed legacy parsing")
    for st in raw_statements:
        for key in ("Resource", "NotResource"):
            if key in st and not all(_legacy_resource_ok(r) for r in strings(st[key])):
                raise MalformedPolicyDocument("The policy failed legacy parsing")
    sids: set[str] = set()
    for st in raw_statements:
        sid = st.get("Sid")
        if sid:
            if sid in sids:
                raise MalformedPolicyDocument("Statement IDs (SID) in a single policy must be unique.")
            sids.add(sid)
    for st in raw_statements:
        key = "Action" if "Action" in st else "NotAction"
        if key not in st or not strings(st[key]):
            raise MalformedPolicyDocument("Policy statement must contain actions.")
    if kind != "trust":
        for st in raw_statements:
            for key in ("Resource", "NotResource"):
                for r in sorted(strings(st.get(key, [])), reverse=True):
                    msg = _check_resource_format(r)
                    if msg is not None:
                        raise MalformedPolicyDocument(msg)
    for st in raw_statements:
        for a in strings(st.get("Action", st.get("NotAction"))):
            _check_action(a)
        for block in st.get("Condition", {}).values():
            for ckey in block:
                if ":" not in ckey:
                    raise MalformedPolicyDocument(_VENDOR_MESSAGE)
    _check_kind_rules(raw_statements, kind)
    return doc, raw_statements, version


def _syntax() -> MalformedPolicyDocument:
    return MalformedPolicyDocument("Syntax errors in policy.")


def strings(value: Any) -> list[str]:
    """A string-or-list-of-strings element; anything else is a syntax error."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
        return [v for v in value if v is not None]
    raise _syntax()


def condition_values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, int | float):
            out.append(str(v))
        else:
            raise _syntax()
    return out


def _check_syntax(doc: Any, lenient_operators: bool) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not set(doc) <= _TOP:
        raise _syntax()
    if "Version" in doc and doc["Version"] not in ("2008-10-17", "2012-10-17"):
        raise _syntax()
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise _syntax()
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise _syntax()
    for st in statements:
        if not isinstance(st, dict) or not set(st) <= _STATEMENT:
            raise _syntax()
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in st and b in st:
                raise _syntax()
        effect = st.get("Effect")
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            raise _syntax()
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in st:
                strings(st[key])
        if "Sid" in st and not isinstance(st["Sid"], str):
            raise _syntax()
        for key in ("Principal", "NotPrincipal"):
            if key in st:
                p = st[key]
                if not (p == "*" or (isinstance(p, dict) and p)):
                    raise _syntax()
                if isinstance(p, dict):
                    for v in p.values():
                        strings(v)
        if "Condition" in st:
            cond = st["Condition"]
            if not isinstance(cond, dict):
                raise _syntax()
            for op, block in cond.items():
                if not isinstance(block, dict):
                    raise _syntax()
                for v in block.values():
                    condition_values(v)
                if block and parse_operator(op).spec is None and not lenient_operators:
                    raise _syntax()
    return statements


def _check_resource_format(resource: str) -> str | None:
    """IAM's message for a Resource that is not an ARN pattern, or None."""
    if resource == "*":
        return None
    _, sep, rest = resource.partition(":")
    if not sep:
        return f'Resource {resource} must be in ARN format or "*".'
    partition, sep2, rest2 = rest.partition(":")
    if partition != "*" and partition not in _PARTITIONS:
        parts = rest2.split(":") if sep2 else [""]
        a = parts[0] if parts[0] != "" or len(parts) > 1 else "*"
        b = parts[1] if len(parts) > 1 else "*"
        c = parts[2] if len(parts) > 2 else "*"
        d = ":".join(parts[3:]) if len(parts) > 3 else "*"
        return f'Partition "{partition}" is not valid for resource "arn:{partition}:{a}:{b}:{c}:{d}".'
    if not sep2 or not rest2.partition(":")[1]:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    return None


def _legacy_resource_ok(resource: str) -> bool:
    return resource == "*" or resource.count(":") >= 5 or "::" not in resource


def _check_action(action: str) -> None:
    parts = action.split(":")
    if len(parts) == 1 and parts[0] != "*":
        raise MalformedPolicyDocument(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        )
    if len(parts) > 2:
        raise MalformedPolicyDocument("Actions/Condition can contain only one colon.")
    if parts[0] != "*" and _VENDOR_BAD.search(parts[0]):
        raise MalformedPolicyDocument(f"Vendor {parts[0]} is not valid")


def _size(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def _check_size(text: str, kind: str, managed: bool, max_chars: int | None) -> None:
    limit = max_chars if max_chars is not None else SIZE_LIMITS["managed" if managed else kind]
    if len(text) > limit and _size(text) > limit:
        quota = "ACLSizePerRole" if kind == "trust" else "PolicySize"
        raise PolicySizeExceeded(f"Cannot exceed quota for {quota}: {limit}")


def _check_kind_rules(raw_statements: list[dict[str, Any]], kind: str) -> None:
    if kind == "trust":
        for st in raw_statements:
            if "Resource" in st or "NotResource" in st:
                raise MalformedPolicyDocument("Has prohibited field Resource.")
        for st in raw_statements:
            if "NotAction" in st or not all(_TRUST_ACTION.match(a) for a in strings(st["Action"])):
                raise MalformedPolicyDocument(
                    "Trust Policy statement actions can only be sts:AssumeRole, "
                    "sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
                )
    else:
        for st in raw_statements:
            key = "Resource" if "Resource" in st else "NotResource"
            if key not in st or not strings(st[key]):
                raise MalformedPolicyDocument("Policy statement must contain resources.")
    for st in raw_statements:
        has_principal = "Principal" in st or "NotPrincipal" in st
        if kind in _NO_PRINCIPAL_KINDS:
            if has_principal:
                raise MalformedPolicyDocument("Policy document should not specify a principal.")
            continue
        if not has_principal:
            raise MalformedPolicyDocument("Missing required field Principal")
        if kind == "trust" and "NotPrincipal" in st:
            raise MalformedPolicyDocument("Has prohibited field NotPrincipal.")
        element = st.get("Principal", st.get("NotPrincipal"))
        if isinstance(element, dict):
            for ptype, values in element.items():
                for v in strings(values):
                    if principal_entry(ptype, v) is None:
                        raise MalformedPolicyDocument(f'Invalid principal in policy: "{ptype}":"{v}"')
