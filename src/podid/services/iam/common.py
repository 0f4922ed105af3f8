"""Shared state and checks of the IAM domain: store, clock, managed policy catalog, validation.

`IamCore` is the base of the role, user and policy operation classes that `IamDomain` combines.
It holds no state besides what is passed in (store, clock) and the lazily loaded, read-only AWS
managed policy catalog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from podid.clock import Clock
from podid.errors import ValidationError
from podid.policy import PolicyKind, parse_policy
from podid.policy.errors import MalformedPolicyDocument
from podid.services.iam.errors import InvalidInput, LimitExceeded, NoSuchEntity
from podid.services.iam.managed import AWS_POLICY_PREFIX, ManagedPolicyCatalog, load_catalog
from podid.services.iam.model import POLICIES, ROLES, USERS, CustomerPolicy, Role, Tags, User, entity_key
from podid.store import Store
from podid.wire.decode import MAX_JSON_DEPTH, json_depth

T = TypeVar("T")

# IAM quotas (IAM User Guide, "IAM and AWS STS quotas"); messages as IAM sends them.
MANAGED_POLICY_MAX = 6144  # characters, whitespace excluded
ROLE_INLINE_MAX = 10240  # aggregate of a role's inline policies, whitespace excluded
USER_INLINE_MAX = 2048  # aggregate of a user's inline policies, whitespace excluded
TRUST_POLICY_MAX = 2048  # default ACLSizePerRole
ATTACHED_PER_ENTITY = 10  # default PoliciesPerRole / PoliciesPerUser
TAGS_PER_ENTITY = 50

_POLICY_ARN = re.compile(r"^arn:aws:iam::(aws|\d{12}):policy(/(?:[\x21-\x7e]+/)?)?([\w+=,.@-]+)$")
_WHITESPACE = re.compile(r"\s+")


_NAME = re.compile(r"[\w+=,.@-]+")
_PATH = re.compile(r"(/)|(/[\x21-\x7e]+/)")


def _constraint(value: object, member: str, rule: str) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"
    )


def check_entity(name: str, member: str, max_len: int, path: str | None = None) -> None:
    """The model's constraints on names and paths, for callers that skip the wire layer (IaC).

    Same checks and message format as the wire layer's `ValidationError` for IAM.
    """
    if not 1 <= len(name) <= max_len:
        raise _constraint(name, member, f"Member must have length less than or equal to {max_len}")
    if not _NAME.fullmatch(name):
        raise _constraint(name, member, "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    if path is not None and (len(path) > 512 or not _PATH.fullmatch(path)):
        raise _constraint(
            path,
            "path",
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        )


def check_max_session_duration(value: int) -> None:
    if value < 3600:
        raise _constraint(value, "maxSessionDuration", "Member must have value greater than or equal to 3600")
    if value > 43200:
        raise _constraint(value, "maxSessionDuration", "Member must have value less than or equal to 43200")


def policy_chars(document: str) -> int:
    """A policy's size as IAM counts it for quotas: characters, whitespace excluded."""
    return len(_WHITESPACE.sub("", document))


def validate_document(document: str, kind: PolicyKind) -> None:
    """Parse the document with the policy engine; raises its `MalformedPolicyDocument` (400).

    Size quotas are checked by the callers, which know whether a document is managed, inline
    (aggregated per role or user) or a trust policy.

    A trust policy that is not JSON at all gets IAM's own wording for CreateRole and
    UpdateAssumeRolePolicy, "This policy contains invalid Json" (identity policies get the
    engine's "Syntax errors in policy.", as CreatePolicy/PutRolePolicy answer).
    """
    if kind == "trust":
        try:
            json.loads(document)
        except (ValueError, RecursionError):
            raise MalformedPolicyDocument("This policy contains invalid Json") from None
    if json_depth(document) > MAX_JSON_DEPTH:
        # no policy grammar nests this deep; refused before the engine's recursive checks
        raise MalformedPolicyDocument("Syntax errors in policy.")
    parse_policy(document, kind, enforce_size=False)


@dataclass(frozen=True)
class PolicyArn:
    arn: str
    owner: str  # "aws" or the account id
    path: str
    name: str


def parse_policy_arn(arn: str) -> PolicyArn:
    match = _POLICY_ARN.match(arn)
    if match is None:
        raise InvalidInput(f"ARN {arn} is not valid.")
    return PolicyArn(arn, match.group(1), match.group(2) or "/", match.group(3))


def check_tags(tags: Sequence[tuple[str, str]], existing: Tags = ()) -> Tags:
    """Merge `tags` into `existing` (a request tag replaces a key case-insensitively).

    Duplicate keys inside one request are refused as IAM does; more than 50 in total too.
    """
    seen: set[str] = set()
    for key, _ in tags:
        if key.lower() in seen:
            raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(key.lower())
    merged = [(k, v) for k, v in existing if k.lower() not in seen]
    merged.extend(tags)
    if len(merged) > TAGS_PER_ENTITY:
        raise LimitExceeded("The number of tags has reached the maximum limit.")
    return tuple(merged)


def tags_param(raw: Iterable[Any] | None) -> list[tuple[str, str]]:
    """botocore's `Tags` list ([{Key, Value}]) as pairs."""
    return [(str(t["Key"]), str(t.get("Value", ""))) for t in raw or ()]


class IamCore:
    """Store access and the checks every IAM operation family shares."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        # Parsed entities by store key, valid while the store still holds the very same document
        # object (every write replaces it): the authorizer reads the caller's entity on each request.
        self._parsed: dict[tuple[str, str], tuple[Any, Any]] = {}

    def _load(self, table: str, key: str, factory: Callable[[Any], T]) -> T | None:
        doc = self.store.get(table, key)
        if doc is None:
            return None
        hit = self._parsed.get((table, key))
        if hit is not None and hit[0] is doc:
            return hit[1]  # type: ignore[no-any-return]
        entity = factory(doc)
        self._parsed[(table, key)] = (doc, entity)
        return entity

    @property
    def catalog(self) -> ManagedPolicyCatalog:
        return load_catalog()

    # lookups
    def find_role(self, account: str, name: str) -> Role | None:
        return self._load(ROLES, entity_key(account, name), Role.from_doc)

    def get_role(self, account: str, name: str) -> Role:
        role = self.find_role(account, name)
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    def find_user(self, account: str, name: str) -> User | None:
        return self._load(USERS, entity_key(account, name), User.from_doc)

    def get_user(self, account: str, name: str) -> User:
        user = self.find_user(account, name)
        if user is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return user

    def find_customer_policy(self, account: str, name: str) -> CustomerPolicy | None:
        return self._load(POLICIES, entity_key(account, name), CustomerPolicy.from_doc)

    def save_role(self, role: Role) -> None:
        self.store.put(ROLES, entity_key(role.account, role.name), role.to_doc())

    def save_user(self, user: User) -> None:
        self.store.put(USERS, entity_key(user.account, user.name), user.to_doc())

    def save_policy(self, policy: CustomerPolicy) -> None:
        self.store.put(POLICIES, entity_key(policy.account, policy.name), policy.to_doc())

    # managed policies
    def managed_policy_document(self, arn: str) -> str | None:
        """The default version's document of an AWS or customer managed policy, None if unknown."""
        if arn.startswith(AWS_POLICY_PREFIX):
            aws = self.catalog.get(arn)
            return aws.document if aws else None
        policy = self.customer_policy_by_arn(arn)
        return policy.default_document if policy else None

    def customer_policy_by_arn(self, arn: str) -> CustomerPolicy | None:
        match = _POLICY_ARN.match(arn)
        if match is None or match.group(1) == "aws":
            return None
        policy = self.find_customer_policy(match.group(1), match.group(3))
        if policy is None or policy.arn != arn:
            return None
        return policy

    def attachable_policy(self, account: str, arn: str) -> str:
        """Check `arn` names a managed policy `account` may attach; returns the ARN."""
        parsed = parse_policy_arn(arn)
        if parsed.owner == "aws":
            if self.catalog.get(arn) is not None:
                return arn
        elif parsed.owner == account and self.customer_policy_by_arn(arn) is not None:
            return arn
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")

    def boundary_policy(self, account: str, arn: str) -> str:
        """Check a permissions boundary ARN (IAM's own message for an unknown one)."""
        parsed = parse_policy_arn(arn)
        known = (
            self.catalog.get(arn) is not None
            if parsed.owner == "aws"
            else (parsed.owner == account and self.customer_policy_by_arn(arn) is not None)
        )
        if not known:
            raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")
        return arn

    def attachment_count(self, account: str, arn: str) -> int:
        count = 0
        for table in (ROLES, USERS):
            for _, doc in self.store.scan(table, f"{account}/"):
                if arn in (doc.get("attached") or ()):
                    count += 1
        return count

    def boundary_usage_count(self, account: str, arn: str) -> int:
        count = 0
        for table in (ROLES, USERS):
            for _, doc in self.store.scan(table, f"{account}/"):
                if doc.get("boundary") == arn:
                    count += 1
        return count


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ValidationError(message)
