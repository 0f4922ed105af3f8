"""Wildcards and policy variables: the matching rules of the IAM policy language.

- Actions: case-insensitive globs, `*` any run of characters, `?` one character (`glob_regex`).
- Resource/NotResource ARNs: case-sensitive; `*` and `?` stay inside one colon-separated segment of
  the first five, except that a `*` which ends a segment (it is followed by `:` or ends the pattern)
  may expand across the following colons, so `arn:aws:dynamodb:*:table/Sessions` matches
  `arn:aws:dynamodb:us-west-2:111122223333:table/Sessions`. In the sixth component (the resource id,
  after the fifth colon) colons are ordinary characters and `*` matches anything (S3 keys, log
  stream names contain colons). See `resource_fragments`.
- Policy variables (`Version: 2012-10-17` only): `${aws:username}`, `${aws:PrincipalTag/team}`, any
  context key, defaults `${aws:PrincipalTag/team, 'none'}`, and the escapes `${*}`, `${?}`, `${$}`
  which stand for the literal characters. A variable's value is always literal text, never a
  wildcard. Under `2008-10-17` (or no Version) `${...}` is literal text.

Everything regex-related is escaped: `.` or `+` in a policy value never acts as a regex operator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ContextValue = str | Sequence[str]

# `${name}` or `${name, 'default'}`; the name is anything but `}` and `,`.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")


@dataclass(frozen=True, slots=True)
class Var:
    """A policy variable: the lower-cased context key and the default, if the policy gives one."""

    key: str
    default: str | None


# A template is a sequence of literal strings (already in final form) and variables.
Template = tuple[str | Var, ...]


def parse_template(text: str) -> Template:
    """Split `text` into literal parts and variables (only call this for Version 2012-10-17)."""
    parts: list[str | Var] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        inner = m.group(1)
        if inner in ("*", "?", "$"):
            parts.append(_Escaped(inner))
        else:
            d = _DEFAULT.match(inner)
            if d is not None:
                parts.append(Var(d.group(1).strip().lower(), d.group(2)))
            else:
                parts.append(Var(inner.strip().lower(), None))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


class _Escaped(str):
    """A literal `*`, `?` or `$` that came from `${*}`, `${?}`, `${$}`: never a wildcard."""

    __slots__ = ()


def has_variables(template: Template) -> bool:
    return any(isinstance(p, Var | _Escaped) for p in template)


def resolve_variable(var: Var, context: Mapping[str, ContextValue]) -> str | None:
    """The value of a variable in a lower-cased context, its default, or None (no value).

    A multi-valued key has no single value: it resolves like a missing key (AWS allows variables only
    for single-valued keys).
    """
    value = context.get(var.key)
    if isinstance(value, str):
        return value
    if value is not None and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return var.default


def substitute(template: Template, context: Mapping[str, ContextValue]) -> str | None:
    """Literal text with every variable replaced; None when a variable has no value."""
    out: list[str] = []
    for part in template:
        if isinstance(part, Var):
            value = resolve_variable(part, context)
            if value is None:
                return None
            out.append(value)
        else:
            out.append(str(part))
    return "".join(out)


def glob_regex(pattern: str) -> str:
    """A regex (for fullmatch) for a simple glob: `*` any run, `?` one character, rest literal."""
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def template_glob_regex(template: Template, context: Mapping[str, ContextValue]) -> str | None:
    """Like `glob_regex`, for a template: wildcards in literal parts, variable values literal."""
    out: list[str] = []
    for part in template:
        if isinstance(part, Var):
            value = resolve_variable(part, context)
            if value is None:
                return None
            out.append(re.escape(value))
        elif isinstance(part, _Escaped):
            out.append(re.escape(str(part)))
        else:
            out.append(glob_regex(part))
    return "".join(out)


def template_chars(template: Template, context: Mapping[str, ContextValue]) -> list[tuple[str, bool]] | None:
    """The template's characters with variables substituted, each with whether it may act as a
    wildcard (only characters written literally in the policy can); None when a variable has no
    value."""
    out: list[tuple[str, bool]] = []
    for part in template:
        if isinstance(part, Var):
            value = resolve_variable(part, context)
            if value is None:
                return None
            out.extend((ch, False) for ch in value)
        else:
            wild = not isinstance(part, _Escaped)
            out.extend((ch, wild) for ch in part)
    return out


def chars_glob_regex(chars: Sequence[tuple[str, bool]]) -> str:
    """Like `glob_regex`, for characters from `template_chars`."""
    out: list[str] = []
    for ch, wild in chars:
        if wild and ch == "*":
            out.append(".*")
        elif wild and ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def resource_fragments(template: Template) -> tuple[str | Var, ...]:
    """Regex fragments for a Resource pattern (see the module docstring), variables left in place.

    The segment rules are decided by the pattern's own colons (variables are assumed not to add any).
    """
    out: list[str | Var] = []
    colons = 0
    flat: list[tuple[str, bool] | Var] = []  # (char, is_wildcard_capable) or Var
    for part in template:
        if isinstance(part, Var):
            flat.append(part)
        elif isinstance(part, _Escaped):
            flat.append((str(part), False))
        else:
            flat.extend((ch, True) for ch in part)
    for i, item in enumerate(flat):
        if isinstance(item, Var):
            out.append(item)
            continue
        ch, wild = item
        if ch == ":":
            colons += 1
            out.append(":")
        elif wild and ch == "*":
            if colons >= 5:
                out.append(".*")
            else:
                nxt = flat[i + 1] if i + 1 < len(flat) else None
                ends_segment = nxt is None or (not isinstance(nxt, Var) and nxt[0] == ":")
                out.append(".*" if ends_segment else "[^:]*")
        elif wild and ch == "?":
            out.append("." if colons >= 5 else "[^:]")
        else:
            out.append(re.escape(ch))
    return tuple(out)


def join_fragments(fragments: Sequence[str | Var], context: Mapping[str, ContextValue]) -> str | None:
    """Join regex fragments, escaping variable values; None when a variable has no value."""
    out: list[str] = []
    for frag in fragments:
        if isinstance(frag, Var):
            value = resolve_variable(frag, context)
            if value is None:
                return None
            out.append(re.escape(value))
        else:
            out.append(frag)
    return "".join(out)


def is_plain_literal(template: Template) -> bool:
    """True when the template has no variables and no wildcard characters (exact comparison)."""
    return all(isinstance(p, str) and not isinstance(p, _Escaped) for p in template) and not any(
        "*" in p or "?" in p for p in template if isinstance(p, str)
    )


def literal_text(template: Template) -> str:
    """The template's text when it has no variables (escapes become their characters)."""
    return "".join(str(p) for p in template if not isinstance(p, Var))


def literal_template(text: str) -> Template:
    """The template of a text in which `${...}` has no meaning (Version 2008-10-17)."""
    return (text,) if text else ()
