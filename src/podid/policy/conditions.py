"""Every IAM condition operator in one table, with the set operators and `IfExists`.

A `Condition` is one (operator, key, values) triple of a statement's Condition block; the statement
applies only when all of them are true. Rules, as the IAM condition-operator pages state them:

- context keys are case-insensitive (the evaluator lower-cases them once), values case-sensitive
  unless the operator says IgnoreCase (and Bool, which compares `true`/`false` case-insensitively);
- several values for one key: OR; several keys or operators: AND;
- a missing key makes a condition false, except for negated operators (`StringNotEquals`,
  `StringNotLike`, `StringNotEqualsIgnoreCase`, `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`,
  `ArnNotEquals`, `ArnNotLike`), `...IfExists` and `ForAllValues:` which are true, and `Null`;
- `ForAnyValue:` is true when at least one context value matches (false on a missing or empty key),
  `ForAllValues:` when every context value matches (true on a missing or empty key); with a negated
  operator a context value "matches" when it equals none of the policy values;
- a multi-valued key under an operator without a set operator behaves like `ForAnyValue:` for the
  positive operators and, for the negated ones, is true only when no context value matches any policy
  value (our choice: AWS only warns against this form);
- a policy variable without a value makes that policy value match nothing (so `StringEquals` fails
  and `StringNotEquals` succeeds);
- an unknown operator is not a match: `evaluate` returns None ("error") and the caller fails closed.

Date values are compared as instants: ISO 8601 (date only, with time, `Z` or an offset, fractions)
or epoch seconds, mixed freely. IpAddress takes v4 and v6 CIDRs; an address never matches a network
of the other family. Binary values are compared as the base64 text given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podid.policy.wildcard import (
    ContextValue,
    Template,
    Var,
    chars_glob_regex,
    glob_regex,
    substitute,
    template_chars,
    template_glob_regex,
)

_INVALID = object()  # a policy value that can never match (unparsable number, date, CIDR, ARN)


def parse_instant(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time or an epoch number; None when neither."""
    s = text.strip()
    if not s:
        return None
    if s.isdigit() or (s[0] == "-" and s[1:].isdigit()):
        return float(s)
    try:
        if "." in s and s.replace(".", "", 1).isdigit():
            return float(s)
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s[-1] in "zZ" else s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _c_identity(v: str) -> object:
    return v


def _c_fold(v: str) -> object:
    return v.casefold()


def _c_like(v: str) -> object:
    return re.compile(glob_regex(v), re.DOTALL)


def _c_number(v: str) -> object:
    n = _number(v)
    return _INVALID if n is None else n


def _c_date(v: str) -> object:
    n = parse_instant(v)
    return _INVALID if n is None else n


def _c_bool(v: str) -> object:
    return v.lower()


def _c_cidr(v: str) -> object:
    import ipaddress  # only policies with IP conditions pay for this import

    try:
        return ipaddress.ip_network(v.strip(), strict=False)
    except ValueError:
        return _INVALID


def _c_arn(v: str) -> object:
    if v == "*":
        return None  # matches every ARN
    parts = v.split(":", 5)
    if len(parts) != 6:
        return _INVALID
    return tuple(re.compile(glob_regex(p), re.DOTALL) for p in parts)


def _arn_template(template: Template, context: Mapping[str, ContextValue]) -> object | None:
    """An Arn* policy value with variables: the six component patterns, variable text literal (its
    colons still separate components: `${aws:PrincipalArn}` is a whole ARN); None when a variable
    has no value or the result is not an ARN."""
    chars = template_chars(template, context)
    if chars is None:
        return None
    parts: list[list[tuple[str, bool]]] = [[]]
    for ch, wild in chars:
        if ch == ":" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append((ch, wild))
    if len(parts) != 6:
        return None
    return tuple(re.compile(chars_glob_regex(p), re.DOTALL) for p in parts)


def _t_eq(ctx: str, pol: Any) -> bool:
    return bool(ctx == pol)


def _t_fold(ctx: str, pol: Any) -> bool:
    return bool(ctx.casefold() == pol)


def _t_like(ctx: str, pol: Any) -> bool:
    return pol.fullmatch(ctx) is not None


def _num_test(op: Callable[[float, float], bool]) -> Callable[[str, Any], bool]:
    def test(ctx: str, pol: Any) -> bool:
        n = _number(ctx)
        return n is not None and op(n, pol)

    return test


def _date_test(op: Callable[[float, float], bool]) -> Callable[[str, Any], bool]:
    def test(ctx: str, pol: Any) -> bool:
        n = parse_instant(ctx)
        return n is not None and op(n, pol)

    return test


def _t_bool(ctx: str, pol: Any) -> bool:
    return bool(ctx.lower() == pol)


def _t_ip(ctx: str, pol: Any) -> bool:
    import ipaddress

    try:
        addr = ipaddress.ip_address(ctx.strip().split("/", 1)[0])
    except ValueError:
        return False
    return addr.version == pol.version and addr in pol


def _t_arn(ctx: str, pol: Any) -> bool:
    if pol is None:
        return True
    parts = ctx.split(":", 5)
    if len(parts) != 6:
        return False
    return all(p.fullmatch(c) is not None for p, c in zip(pol, parts, strict=True))


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """One row of the operator table: how to compile a policy value, how to test a context value."""

    name: str
    compile: Callable[[str], object]
    test: Callable[[str, Any], bool]
    negated: bool
    like: bool = False  # wildcard operator: variable values are escaped into the pattern
    arn: bool = False  # Arn*: six components compared separately, variable values literal
    variables: bool = True  # policy variables are substituted (String, Bool, Arn operators only)


def _eq(a: float, b: float) -> bool:
    return a == b


def _lt(a: float, b: float) -> bool:
    return a < b


def _le(a: float, b: float) -> bool:
    return a <= b


def _gt(a: float, b: float) -> bool:
    return a > b


def _ge(a: float, b: float) -> bool:
    return a >= b


def _table() -> dict[str, OperatorSpec]:
    rows = [
        OperatorSpec("StringEquals", _c_identity, _t_eq, False),
        OperatorSpec("StringNotEquals", _c_identity, _t_eq, True),
        OperatorSpec("StringEqualsIgnoreCase", _c_fold, _t_fold, False),
        OperatorSpec("StringNotEqualsIgnoreCase", _c_fold, _t_fold, True),
        OperatorSpec("StringLike", _c_like, _t_like, False, like=True),
        OperatorSpec("StringNotLike", _c_like, _t_like, True, like=True),
        OperatorSpec("NumericEquals", _c_number, _num_test(_eq), False, variables=False),
        OperatorSpec("NumericNotEquals", _c_number, _num_test(_eq), True, variables=False),
        OperatorSpec("NumericLessThan", _c_number, _num_test(_lt), False, variables=False),
        OperatorSpec("NumericLessThanEquals", _c_number, _num_test(_le), False, variables=False),
        OperatorSpec("NumericGreaterThan", _c_number, _num_test(_gt), False, variables=False),
        OperatorSpec("NumericGreaterThanEquals", _c_number, _num_test(_ge), False, variables=False),
        OperatorSpec("DateEquals", _c_date, _date_test(_eq), False, variables=False),
        OperatorSpec("DateNotEquals", _c_date, _date_test(_eq), True, variables=False),
        OperatorSpec("DateLessThan", _c_date, _date_test(_lt), False, variables=False),
        OperatorSpec("DateLessThanEquals", _c_date, _date_test(_le), False, variables=False),
        OperatorSpec("DateGreaterThan", _c_date, _date_test(_gt), False, variables=False),
        OperatorSpec("DateGreaterThanEquals", _c_date, _date_test(_ge), False, variables=False),
        OperatorSpec("Bool", _c_bool, _t_bool, False),
        OperatorSpec("BinaryEquals", _c_identity, _t_eq, False, variables=False),
        OperatorSpec("IpAddress", _c_cidr, _t_ip, False, variables=False),
        OperatorSpec("NotIpAddress", _c_cidr, _t_ip, True, variables=False),
        OperatorSpec("ArnEquals", _c_arn, _t_arn, False, arn=True),
        OperatorSpec("ArnLike", _c_arn, _t_arn, False, arn=True),
        OperatorSpec("ArnNotEquals", _c_arn, _t_arn, True, arn=True),
        OperatorSpec("ArnNotLike", _c_arn, _t_arn, True, arn=True),
        OperatorSpec("Null", _c_bool, _t_bool, False, variables=False),
    ]
    return {r.name: r for r in rows}


OPERATORS: Mapping[str, OperatorSpec] = _table()  # read-only after import: the operator table


@dataclass(frozen=True, slots=True)
class ParsedOperator:
    """An operator name split into its parts; `spec` is None for an unknown operator."""

    name: str
    set_op: str | None  # "ForAnyValue" | "ForAllValues" | None
    base: str
    if_exists: bool
    spec: OperatorSpec | None


def parse_operator(name: str) -> ParsedOperator:
    set_op: str | None = None
    rest = name
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if rest.startswith(prefix):
            set_op = prefix[:-1]
            rest = rest[len(prefix) :]
            break
    if_exists = False
    base = rest
    if rest.endswith("IfExists") and rest != "IfExists":
        if_exists = True
        base = rest[: -len("IfExists")]
    spec = OPERATORS.get(base)
    if spec is not None and spec.name == "Null" and (if_exists or set_op is not None):
        spec = None  # Null takes neither IfExists nor a set operator
    return ParsedOperator(name, set_op, base, if_exists, spec)


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition: operator, key and the policy values (templates when variables are on)."""

    operator: ParsedOperator
    key: str
    key_lower: str
    values: tuple[Template, ...]
    compiled: tuple[object, ...] | None  # precompiled when no value has variables

    @classmethod
    def build(cls, operator: ParsedOperator, key: str, values: tuple[Template, ...]) -> Condition:
        compiled: tuple[object, ...] | None = None
        spec = operator.spec
        # Precompile when every part is plain text (no variable, no `${*}`-style escape).
        if spec is not None and all(all(type(p) is str for p in v) for v in values):
            compiled = tuple(spec.compile("".join(v)) for v in values)  # type: ignore[arg-type]
        return cls(operator, key, key.lower(), values, compiled)

    def _policy_values(self, context: Mapping[str, ContextValue]) -> list[object]:
        if self.compiled is not None:
            return [c for c in self.compiled if c is not _INVALID]
        spec = self.operator.spec
        assert spec is not None
        out: list[object] = []
        for v in self.values:
            if spec.arn:
                parts = _arn_template(v, context)
                if parts is not None:
                    out.append(parts)
                continue
            if spec.like:
                rx = template_glob_regex(v, context)
                if rx is not None:
                    out.append(re.compile(rx, re.DOTALL))
                continue
            text = substitute(v, context)
            if text is None:
                continue  # a variable without value: this value matches nothing
            c = spec.compile(text)
            if c is not _INVALID:
                out.append(c)
        return out

    def evaluate(self, context: Mapping[str, ContextValue]) -> bool | None:
        """True or False; None when the operator is unknown (the caller fails closed)."""
        op = self.operator
        spec = op.spec
        if spec is None:
            return None
        raw = context.get(self.key_lower)
        present: list[str] | None
        if raw is None:
            present = None
        elif isinstance(raw, str):
            present = [raw]
        else:
            present = list(raw) or None
        if spec.name == "Null":
            want_missing = [str(c) for c in self._policy_values(context)]
            return any((w == "true") == (present is None) for w in want_missing if w in ("true", "false"))
        if present is None:
            if op.if_exists or op.set_op == "ForAllValues":
                return True
            if op.set_op == "ForAnyValue":
                return False
            return spec.negated
        pol = self._policy_values(context)
        test = spec.test

        def positive(v: str) -> bool:
            return any(test(v, p) for p in pol)

        if op.set_op is None:
            hit = any(positive(v) for v in present)
            return not hit if spec.negated else hit
        if op.set_op == "ForAnyValue":
            return any(positive(v) != spec.negated for v in present)
        return all(positive(v) != spec.negated for v in present)

    def variables(self) -> list[Var]:
        return [p for v in self.values for p in v if isinstance(p, Var)]
