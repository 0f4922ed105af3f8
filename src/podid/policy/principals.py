"""Principals: the caller of a request, and the Principal/NotPrincipal elements that may name it.

The caller is a string: an IAM ARN (user, role, assumed-role session, federated user, root) or the
name of an AWS service principal (`pods.eks.amazonaws.com`). `parse_caller` reads it once.

How a Principal element names a caller decides what a resource-based policy grants (see
`podid.policy.evaluate`), so `PrincipalMatcher.match` returns how the caller was named:

- `"direct"`: the caller's own ARN (user, session, federated user), a service name, the root user by
  its account: grants alone in the same account, not limited by boundaries or session policies;
- `"wildcard"`: `"*"` (or `{"AWS": "*"}`), or a NotPrincipal that does not exempt the caller: treated
  like a direct grant (the issue's rule for `Principal: "*"` statements that name the caller through
  `aws:PrincipalArn`);
- `"role"`: the role of an assumed-role session (by name and account: the session ARN has no path, so
  the role's ARN matches with any path; the context plays no part), or a role caller named by its
  ARN: grants alone in the same account but limited by boundaries and session policies;
- `"account"`: the account (`arn:aws:iam::A:root` or `A`): delegates to the account's identity
  policies and grants nothing alone.

NotPrincipal exempts a caller only when every identity the caller carries is listed: a user is the
user and its account; a role session is the session, its role and its account. Listing an account
ARN does not exempt the account's other principals (NotPrincipal page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

CallerKind = Literal["user", "role", "session", "root", "federated", "service", "other"]
MatchKind = Literal["direct", "wildcard", "role", "account"]
_RANK: dict[str, int] = {"account": 0, "role": 1, "wildcard": 2, "direct": 3}

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$")


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of a request, parsed."""

    arn: str
    kind: CallerKind
    account: str | None
    role_name: str | None = None


@lru_cache(maxsize=4096)
def parse_caller(principal: str) -> Caller:
    m = _IAM_ARN.match(principal)
    if m is None:
        if _ACCOUNT_ID.match(principal):
            return Caller(f"arn:aws:iam::{principal}:root", "root", principal)
        if not principal.startswith("arn:") and "." in principal:
            return Caller(principal.lower(), "service", None)
        parts = principal.split(":")
        account = parts[4] if len(parts) > 5 and _ACCOUNT_ID.match(parts[4]) else None
        return Caller(principal, "other", account)
    service, account, rest = m.group(2), m.group(3), m.group(4)
    if service == "iam":
        if rest == "root":
            return Caller(principal, "root", account)
        if rest.startswith("user/"):
            return Caller(principal, "user", account)
        if rest.startswith("role/"):
            return Caller(principal, "role", account, rest.rsplit("/", 1)[-1])
        return Caller(principal, "other", account)
    if rest.startswith("assumed-role/"):
        pieces = rest.split("/")
        if len(pieces) >= 3:
            return Caller(principal, "session", account, pieces[1])
    if rest.startswith("federated-user/"):
        return Caller(principal, "federated", account)
    return Caller(principal, "other", account)


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """One value of a Principal element."""

    kind: Literal["wildcard", "account", "arn", "role", "service", "federated", "canonical"]
    value: str
    account: str | None = None
    role_name: str | None = None


def principal_entry(principal_type: str, value: str) -> PrincipalEntry | None:
    """The entry for one value, or None when IAM would reject it ("Invalid principal in policy")."""
    if principal_type == "AWS":
        if value == "*":
            return PrincipalEntry("wildcard", "*")
        if _ACCOUNT_ID.match(value):
            return PrincipalEntry("account", value, value)
        m = _IAM_ARN.match(value)
        if m is None or "*" in value or "?" in value:
            return None
        service, account, rest = m.group(2), m.group(3), m.group(4)
        if service == "iam" and rest == "root":
            return PrincipalEntry("account", account, account)
        if service == "iam" and rest.startswith("role/") and len(rest) > 5:
            return PrincipalEntry("role", value, account, rest.rsplit("/", 1)[-1])
        if service == "iam" and rest.startswith("user/") and len(rest) > 5:
            return PrincipalEntry("arn", value, account)
        if service == "sts" and (
            (rest.startswith("assumed-role/") and rest.count("/") >= 2) or rest.startswith("federated-user/")
        ):
            return PrincipalEntry("arn", value, account)
        return None
    if principal_type == "Service":
        if value == "*":
            return PrincipalEntry("wildcard", "*")
        if not value or "*" in value or " " in value:
            return None
        return PrincipalEntry("service", value.lower())
    if principal_type == "Federated":
        return PrincipalEntry("federated", value) if value and "*" not in value else None
    if principal_type == "CanonicalUser":
        return PrincipalEntry("canonical", value) if value else None
    return None


def _role_matches(entry: PrincipalEntry, caller: Caller) -> bool:
    if caller.kind == "role":
        return caller.arn == entry.value
    # A session ARN has no path: the role's ARN matches with any path (role names are unique in
    # an account, whatever their path).
    return (
        caller.kind == "session" and caller.account == entry.account and caller.role_name == entry.role_name
    )


def _entry_match(entry: PrincipalEntry, caller: Caller) -> MatchKind | None:
    kind = entry.kind
    if kind == "wildcard":
        return "wildcard"
    if kind == "account":
        if caller.kind == "service" or caller.account != entry.value:
            return None
        return "direct" if caller.kind == "root" else "account"
    if kind == "role":
        return "role" if _role_matches(entry, caller) else None
    if kind == "service":
        return "direct" if caller.kind == "service" and caller.arn == entry.value else None
    return "direct" if caller.arn == entry.value else None


@dataclass(frozen=True, slots=True)
class PrincipalMatcher:
    """A Principal (or, negated, a NotPrincipal) element."""

    entries: tuple[PrincipalEntry, ...]
    negated: bool

    def match(self, caller: Caller) -> MatchKind | None:
        if self.negated:
            return None if self._exempt(caller) else "wildcard"
        best: MatchKind | None = None
        for entry in self.entries:
            got = _entry_match(entry, caller)
            if got is not None and (best is None or _RANK[got] > _RANK[best]):
                best = got
        return best

    def _exempt(self, caller: Caller) -> bool:
        entries = self.entries
        if any(e.kind == "wildcard" for e in entries):
            return True

        def listed_account() -> bool:
            return any(e.kind == "account" and e.value == caller.account for e in entries)

        def listed_arn() -> bool:
            return any(e.kind != "account" and e.value == caller.arn for e in entries)

        if caller.kind == "service":
            return any(e.kind == "service" and e.value == caller.arn for e in entries)
        if caller.kind == "root":
            return listed_account()
        if caller.kind == "session":
            role_listed = any(e.kind == "role" and _role_matches(e, caller) for e in entries)
            return listed_arn() and role_listed and listed_account()
        return listed_arn() and listed_account()
