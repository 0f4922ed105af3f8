"""IAM's domain objects as immutable values, and their JSON form in the store.

Tables (IAM is global: keys carry the account only, names are unique case-insensitively):
  `iam.roles`     "<account>/<lower name>"  -> Role
  `iam.users`     "<account>/<lower name>"  -> User
  `iam.policies`  "<account>/<lower name>"  -> CustomerPolicy (customer managed)
  `iam.keys`      "<access key id>"         -> AccessKey
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

ROLES = "iam.roles"
USERS = "iam.users"
POLICIES = "iam.policies"
KEYS = "iam.keys"

Tags = tuple[tuple[str, str], ...]


def entity_key(account: str, name: str) -> str:
    return f"{account}/{name.lower()}"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _opt_date(text: Any) -> datetime | None:
    return from_iso(text) if isinstance(text, str) else None


def _tags(raw: Any) -> Tags:
    return tuple((str(k), str(v)) for k, v in raw or ())


@dataclass(frozen=True)
class Role:
    account: str
    name: str
    path: str
    role_id: str
    create_date: datetime
    trust_policy: str
    max_session_duration: int = 3600
    description: str | None = None
    boundary_arn: str | None = None
    tags: Tags = ()
    inline: Mapping[str, str] = field(default_factory=dict)  # policy name -> document
    attached: tuple[str, ...] = ()  # managed policy ARNs, in attach order
    last_used: datetime | None = None
    last_used_region: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "id": self.role_id,
            "created": iso(self.create_date),
            "trust": self.trust_policy,
            "max_session": self.max_session_duration,
            "description": self.description,
            "boundary": self.boundary_arn,
            "tags": [list(t) for t in self.tags],
            "inline": dict(self.inline),
            "attached": list(self.attached),
            "last_used": iso(self.last_used) if self.last_used else None,
            "last_used_region": self.last_used_region,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Role:
        return cls(
            account=doc["account"],
            name=doc["name"],
            path=doc["path"],
            role_id=doc["id"],
            create_date=from_iso(doc["created"]),
            trust_policy=doc["trust"],
            max_session_duration=int(doc["max_session"]),
            description=doc.get("description"),
            boundary_arn=doc.get("boundary"),
            tags=_tags(doc.get("tags")),
            inline=dict(doc.get("inline") or {}),
            attached=tuple(doc.get("attached") or ()),
            last_used=_opt_date(doc.get("last_used")),
            last_used_region=doc.get("last_used_region"),
        )

    def evolve(self, **changes: Any) -> Role:
        return replace(self, **changes)


@dataclass(frozen=True)
class User:
    account: str
    name: str
    path: str
    user_id: str
    create_date: datetime
    boundary_arn: str | None = None
    tags: Tags = ()
    inline: Mapping[str, str] = field(default_factory=dict)
    attached: tuple[str, ...] = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "id": self.user_id,
            "created": iso(self.create_date),
            "boundary": self.boundary_arn,
            "tags": [list(t) for t in self.tags],
            "inline": dict(self.inline),
            "attached": list(self.attached),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> User:
        return cls(
            account=doc["account"],
            name=doc["name"],
            path=doc["path"],
            user_id=doc["id"],
            create_date=from_iso(doc["created"]),
            boundary_arn=doc.get("boundary"),
            tags=_tags(doc.get("tags")),
            inline=dict(doc.get("inline") or {}),
            attached=tuple(doc.get("attached") or ()),
        )

    def evolve(self, **changes: Any) -> User:
        return replace(self, **changes)


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account: str
    user_name: str
    secret: str
    status: str  # Active | Inactive
    create_date: datetime
    last_used: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.access_key_id,
            "account": self.account,
            "user": self.user_name,
            "secret": self.secret,
            "status": self.status,
            "created": iso(self.create_date),
            "last_used": iso(self.last_used) if self.last_used else None,
            "last_used_service": self.last_used_service,
            "last_used_region": self.last_used_region,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> AccessKey:
        return cls(
            access_key_id=doc["id"],
            account=doc["account"],
            user_name=doc["user"],
            secret=doc["secret"],
            status=doc["status"],
            create_date=from_iso(doc["created"]),
            last_used=_opt_date(doc.get("last_used")),
            last_used_service=doc.get("last_used_service"),
            last_used_region=doc.get("last_used_region"),
        )


@dataclass(frozen=True)
class PolicyVersion:
    version_id: str
    document: str
    create_date: datetime


@dataclass(frozen=True)
class CustomerPolicy:
    account: str
    name: str
    path: str
    policy_id: str
    create_date: datetime
    update_date: datetime
    default_version_id: str
    versions: tuple[PolicyVersion, ...]
    next_version: int
    description: str | None = None
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:policy{self.path}{self.name}"

    @property
    def default_document(self) -> str:
        return next(v.document for v in self.versions if v.version_id == self.default_version_id)

    def version(self, version_id: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.version_id == version_id), None)

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "id": self.policy_id,
            "created": iso(self.create_date),
            "updated": iso(self.update_date),
            "default": self.default_version_id,
            "versions": [[v.version_id, v.document, iso(v.create_date)] for v in self.versions],
            "next": self.next_version,
            "description": self.description,
            "tags": [list(t) for t in self.tags],
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CustomerPolicy:
        return cls(
            account=doc["account"],
            name=doc["name"],
            path=doc["path"],
            policy_id=doc["id"],
            create_date=from_iso(doc["created"]),
            update_date=from_iso(doc["updated"]),
            default_version_id=doc["default"],
            versions=tuple(PolicyVersion(v, d, from_iso(c)) for v, d, c in doc["versions"]),
            next_version=int(doc["next"]),
            description=doc.get("description"),
            tags=_tags(doc.get("tags")),
        )

    def evolve(self, **changes: Any) -> CustomerPolicy:
        return replace(self, **changes)
