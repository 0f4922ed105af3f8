"""Policy documents, parsed and validated once into immutable, compiled objects.

`parse_policy(text, kind)` checks a document the way IAM does (`podid.policy.validate`: IAM's
messages, in IAM's order of checks) and compiles it: exact action names in a set, wildcards as
compiled regexes, statements indexed by service so that a request only looks at the statements
that can match its action, condition values precompiled unless they hold policy variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from podid.policy.conditions import Condition, parse_operator
from podid.policy.principals import PrincipalEntry, PrincipalMatcher, principal_entry
from podid.policy.validate import condition_values, strings, validate_document
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
    doc, raw_statements, version = validate_document(
        text,
        kind,
        managed=managed,
        max_chars=max_chars,
        enforce_size=enforce_size,
        lenient_operators=lenient_operators,
    )
    statements = tuple(_compile_statement(i, st, version) for i, st in enumerate(raw_statements))
    index, fallback = _build_index(statements)
    policy_id = doc.get("Id")
    return Policy(kind, version, policy_id, statements, text, index, fallback)


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
            for v in strings(values):
                entry = principal_entry(ptype, v)
                if entry is not None:
                    entries.append(entry)
    return PrincipalMatcher(tuple(entries), negated)


def _compile_statement(index: int, st: dict[str, Any], version: str) -> Statement:
    if "Action" in st:
        action = _compile_actions(strings(st["Action"]), False)
    else:
        action = _compile_actions(strings(st["NotAction"]), True)
    resource: ResourceMatcher | None = None
    if "Resource" in st:
        resource = _compile_resources(strings(st["Resource"]), False, version)
    elif "NotResource" in st:
        resource = _compile_resources(strings(st["NotResource"]), True, version)
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
                parse_template(v) if variables else literal_template(v) for v in condition_values(value)
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
