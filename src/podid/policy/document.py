"""Policy documents, parsed and validated once into immutable, compiled objects.

`parse_policy(text, kind)` checks a document the way IAM does and raises `MalformedPolicyDocument`
with IAM's messages, in IAM's order of checks (learned from IAM's answers: the order the message of a
document with several faults shows):

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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from podid.policy.conditions import Condition, parse_instant, parse_operator
from podid.policy.errors import MalformedPolicyDocument, PolicySizeExceeded
from podid.policy.principals import PrincipalEntry, PrincipalMatcher, principal_entry
from podid.policy.wildcard import (
    ContextValue,
    Template,
    Var,
    glob_regex,
    has_variables,
    join_fragments,
    literal_template,
    parse_template,
    resource_fragments,
)

PolicyKind = Literal["identity", "resource", "trust", "boundary", "session", "scp", "rcp"]
POLICY_KINDS: tuple[str, ...] = ("identity", "resource", "trust", "boundary", "session", "scp", "rcp")

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


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """Action or NotAction: lower-cased exact names, compiled globs, `*`."""

    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    everything: bool
    negated: bool
    services: frozenset[str] | None  # service prefixes this element can match; None = any

    def matches(self, action_lower: str) -> bool:
        hit = (
            self.everything
            or action_lower in self.exact
            or any(p.fullmatch(action_lower) is not None for p in self.patterns)
        )
        return hit != self.negated


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    """Resource or NotResource: `*`, exact ARNs, compiled patterns, patterns with variables."""

    everything: bool
    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    templates: tuple[tuple[str | Var, ...], ...]
    negated: bool

    def matches(self, resource: str, context: Mapping[str, ContextValue]) -> bool:
        hit = (
            self.everything
            or resource in self.exact
            or any(p.fullmatch(resource) is not None for p in self.patterns)
            or any(_template_match(t, resource, context) for t in self.templates)
        )
        return hit != self.negated


def _template_match(
    fragments: tuple[str | Var, ...], resource: str, context: Mapping[str, ContextValue]
) -> bool:
    rx = join_fragments(fragments, context)
    return rx is not None and re.fullmatch(rx, resource, re.DOTALL) is not None


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement. `index` is its position in the policy (0-based)."""

    index: int
    sid: str | None
    allow: bool
    action: ActionMatcher
    resource: ResourceMatcher | None  # None: no Resource element (trust policy)
    principal: PrincipalMatcher | None  # None: no Principal element
    conditions: tuple[Condition, ...]
    unknown_operators: tuple[str, ...]

    @property
    def effect(self) -> str:
        return "Allow" if self.allow else "Deny"


@dataclass(frozen=True, eq=False)
class Policy:
    """An immutable, compiled policy. `candidates(action)` are the statements that can match it."""

    kind: PolicyKind
    version: str  # "2012-10-17" or "2008-10-17" (also when the document has no Version)
    id: str | None
    statements: tuple[Statement, ...]
    text: str
    _index: Mapping[str, tuple[Statement, ...]] = field(repr=False)
    _fallback: tuple[Statement, ...] = field(repr=False)

    def candidates(self, action_lower: str) -> tuple[Statement, ...]:
        service = action_lower.partition(":")[0]
        return self._index.get(service, self._fallback)

    @property
    def has_resource_element(self) -> bool:
        return any(s.resource is not None for s in self.statements)


def _syntax() -> MalformedPolicyDocument:
    return MalformedPolicyDocument("Syntax errors in policy.")


def _strings(value: Any) -> list[str]:
    """A string-or-list-of-strings element; anything else is a syntax error."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
        return [v for v in value if v is not None]
    raise _syntax()


def _condition_values(value: Any) -> list[str]:
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
                _strings(st[key])
        if "Sid" in st and not isinstance(st["Sid"], str):
            raise _syntax()
        for key in ("Principal", "NotPrincipal"):
            if key in st:
                p = st[key]
                if not (p == "*" or (isinstance(p, dict) and p)):
                    raise _syntax()
                if isinstance(p, dict):
                    for v in p.values():
                        _strings(v)
        if "Condition" in st:
            cond = st["Condition"]
            if not isinstance(cond, dict):
                raise _syntax()
            for op, block in cond.items():
                if not isinstance(block, dict):
                    raise _syntax()
                for v in block.values():
                    _condition_values(v)
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


def parse_policy(
    text: str,
    kind: PolicyKind = "identity",
    *,
    managed: bool = False,
    max_chars: int | None = None,
    enforce_size: bool = True,
    lenient_operators: bool = False,
) -> Policy:
    """Validate and compile a policy document (see the module docstring for the checks)."""
    if kind not in POLICY_KINDS:
        raise ValueError(f"unknown policy kind {kind!r}")
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
                    if any(parse_instant(x) is None for x in _condition_values(v)):
                        raise MalformedPolicyDocument("The policy failed legacy parsing")
    for st in raw_statements:
        for key in ("Resource", "NotResource"):
            if key in st and not all(_legacy_resource_ok(r) for r in _strings(st[key])):
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
        if key not in st or not _strings(st[key]):
            raise MalformedPolicyDocument("Policy statement must contain actions.")
    if kind != "trust":
        for st in raw_statements:
            for key in ("Resource", "NotResource"):
                for r in sorted(_strings(st.get(key, [])), reverse=True):
                    msg = _check_resource_format(r)
                    if msg is not None:
                        raise MalformedPolicyDocument(msg)
    for st in raw_statements:
        for a in _strings(st.get("Action", st.get("NotAction"))):
            _check_action(a)
        for block in st.get("Condition", {}).values():
            for ckey in block:
                if ":" not in ckey:
                    raise MalformedPolicyDocument(_VENDOR_MESSAGE)
    _check_kind_rules(raw_statements, kind)
    statements = tuple(_compile_statement(i, st, version) for i, st in enumerate(raw_statements))
    index, fallback = _build_index(statements)
    policy_id = doc.get("Id")
    return Policy(kind, version, policy_id, statements, text, index, fallback)


def _check_kind_rules(raw_statements: list[dict[str, Any]], kind: str) -> None:
    if kind == "trust":
        for st in raw_statements:
            if "Resource" in st or "NotResource" in st:
                raise MalformedPolicyDocument("Has prohibited field Resource.")
        for st in raw_statements:
            if "NotAction" in st or not all(_TRUST_ACTION.match(a) for a in _strings(st["Action"])):
                raise MalformedPolicyDocument(
                    "Trust Policy statement actions can only be sts:AssumeRole, "
                    "sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
                )
    else:
        for st in raw_statements:
            key = "Resource" if "Resource" in st else "NotResource"
            if key not in st or not _strings(st[key]):
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
                for v in _strings(values):
                    if principal_entry(ptype, v) is None:
                        raise MalformedPolicyDocument(f'Invalid principal in policy: "{ptype}":"{v}"')


def _compile_actions(values: list[str], negated: bool) -> ActionMatcher:
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    everything = False
    services: set[str] | None = set()
    for raw in values:
        a = raw.lower()
        if a == "*":
            everything = True
            services = None
            continue
        svc = a.partition(":")[0]
        if services is not None:
            if "*" in svc or "?" in svc:
                services = None
            else:
                services.add(svc)
        if "*" in a or "?" in a:
            patterns.append(re.compile(glob_regex(a), re.DOTALL))
        else:
            exact.add(a)
    frozen = None if (services is None or negated) else frozenset(services)
    return ActionMatcher(frozenset(exact), tuple(patterns), everything, negated, frozen)


def _compile_resources(values: list[str], negated: bool, version: str) -> ResourceMatcher:
    everything = False
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    templates: list[tuple[str | Var, ...]] = []
    for raw in values:
        if raw == "*":
            everything = True
            continue
        template: Template = parse_template(raw) if version == "2012-10-17" else literal_template(raw)
        fragments = resource_fragments(template)
        if any(isinstance(f, Var) for f in fragments):
            templates.append(fragments)
        elif not has_variables(template) and "*" not in raw and "?" not in raw:
            exact.add(raw)
        else:
            patterns.append(re.compile("".join(f for f in fragments if isinstance(f, str)), re.DOTALL))
    return ResourceMatcher(everything, frozenset(exact), tuple(patterns), tuple(templates), negated)


def _compile_principal(element: Any, negated: bool) -> PrincipalMatcher:
    entries: list[PrincipalEntry] = []
    if element == "*":
        entries.append(PrincipalEntry("wildcard", "*"))
    else:
        for ptype, values in element.items():
            for v in _strings(values):
                entry = principal_entry(ptype, v)
                if entry is not None:
                    entries.append(entry)
    return PrincipalMatcher(tuple(entries), negated)


def _compile_statement(index: int, st: dict[str, Any], version: str) -> Statement:
    if "Action" in st:
        action = _compile_actions(_strings(st["Action"]), False)
    else:
        action = _compile_actions(_strings(st["NotAction"]), True)
    resource: ResourceMatcher | None = None
    if "Resource" in st:
        resource = _compile_resources(_strings(st["Resource"]), False, version)
    elif "NotResource" in st:
        resource = _compile_resources(_strings(st["NotResource"]), True, version)
    principal: PrincipalMatcher | None = None
    if "Principal" in st:
        principal = _compile_principal(st["Principal"], False)
    elif "NotPrincipal" in st:
        principal = _compile_principal(st["NotPrincipal"], True)
    conditions: list[Condition] = []
    unknown: list[str] = []
    for op_name, block in st.get("Condition", {}).items():
        op = parse_operator(op_name)
        if op.spec is None:
            unknown.append(op_name)
        # Policy variables only in Version 2012-10-17 and only for the operators that take them.
        variables = version == "2012-10-17" and (op.spec is None or op.spec.variables)
        for key, value in block.items():
            values = tuple(
                parse_template(v) if variables else literal_template(v) for v in _condition_values(value)
            )
            conditions.append(Condition.build(op, key, values))
    return Statement(
        index,
        st.get("Sid"),
        st["Effect"] == "Allow",
        action,
        resource,
        principal,
        tuple(conditions),
        tuple(unknown),
    )


def _build_index(
    statements: tuple[Statement, ...],
) -> tuple[dict[str, tuple[Statement, ...]], tuple[Statement, ...]]:
    services: set[str] = set()
    for s in statements:
        if s.action.services is not None:
            services |= s.action.services
    fallback = tuple(s for s in statements if s.action.services is None)
    index = {
        svc: tuple(s for s in statements if s.action.services is None or svc in s.action.services)
        for svc in services
    }
    return index, fallback


@lru_cache(maxsize=4096)
def _cached(
    text: str, kind: PolicyKind, managed: bool, lenient_operators: bool, enforce_size: bool
) -> Policy:
    return parse_policy(
        text, kind, managed=managed, lenient_operators=lenient_operators, enforce_size=enforce_size
    )


def compile_policy(
    text: str,
    kind: PolicyKind = "identity",
    *,
    managed: bool = False,
    lenient_operators: bool = False,
    enforce_size: bool = True,
) -> Policy:
    """`parse_policy`, cached on (text, kind, options): the hot path for policies read again."""
    return _cached(text, kind, managed, lenient_operators, enforce_size)
