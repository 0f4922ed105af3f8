"""The Kubernetes kinds the local cluster understands, their names and aliases, and label selectors.

Pure helpers shared by the object store, the controllers, the API and `podid kubectl`: which kinds
exist (and their apiVersion, plural, short names, namespaced or not), how kubectl spells a resource
(`deployment.apps/awscli-app`), the random suffixes Kubernetes generates (`utilrand.String(5)` over
the alphabet `bcdfghjklmnpqrstvwxz2456789`), the pod-template-hash, and label-selector parsing and
matching with kubectl's syntax (`a=b,c!=d,e in (f,g),!h`).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Obj = dict[str, Any]

# k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell words
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    plural: str
    singular: str
    short: tuple[str, ...]
    namespaced: bool
    applyable: bool = True  # Node is read-only (nodes come from node groups)

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def resource(self) -> str:
        """How kubectl names the resource type in output: `deployment.apps`, `pod`."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    @property
    def resource_plural(self) -> str:
        """`deployments.apps`, `pods`: used in NotFound messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "v1", "namespaces", "namespace", ("ns",), False),
    Kind("ServiceAccount", "v1", "serviceaccounts", "serviceaccount", ("sa",), True),
    Kind("ConfigMap", "v1", "configmaps", "configmap", ("cm",), True),
    Kind("Secret", "v1", "secrets", "secret", (), True),
    Kind("Pod", "v1", "pods", "pod", ("po",), True),
    Kind("Deployment", "apps/v1", "deployments", "deployment", ("deploy",), True),
    Kind("ReplicaSet", "apps/v1", "replicasets", "replicaset", ("rs",), True),
    Kind("DaemonSet", "apps/v1", "daemonsets", "daemonset", ("ds",), True),
    Kind("Node", "v1", "nodes", "node", ("no",), False, applyable=False),
)
BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}


class UnknownResourceType(ValueError):
    """`kubectl get foo`: the server doesn't have a resource type "foo"."""


def kind_for(name: str) -> Kind:
    """The kind a kubectl TYPE argument names: singular, plural, short form, or with its group."""
    wanted = name.lower()
    base, _, group = wanted.partition(".")
    for kind in KINDS:
        names = {kind.plural, kind.singular, kind.kind.lower(), *kind.short}
        if base in names and (not group or group == kind.group or wanted == kind.resource):
            return kind
    raise UnknownResourceType(f'the server doesn\'t have a resource type "{name}"')


def now_rfc3339(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def human_duration(delta: timedelta) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, as kubectl prints AGE."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        sec = seconds % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        mins = minutes % 60
        return f"{hours}h" if mins == 0 else f"{hours}h{mins}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        hrs = hours % 24
        return f"{hours // 24}d" if hrs == 0 else f"{hours // 24}d{hrs}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def random_suffix(rng: random.Random, n: int = 5) -> str:
    """utilrand.String(n): the suffix of generated names (`awscli-app-78c6cf97f4-qj7xm`)."""
    return "".join(rng.choice(ALPHANUMS) for _ in range(n))


def safe_encode(text: str) -> str:
    """utilrand.SafeEncodeString: map each byte onto the alphabet (no vowels, no look-alikes)."""
    return "".join(ALPHANUMS[b % len(ALPHANUMS)] for b in text.encode())


def pod_template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """The ReplicaSet's pod-template-hash label: FNV-32a of the template, safe-encoded.

    Kubernetes hashes a spew dump of the Go struct; podid hashes the canonical JSON instead, so the
    value differs from a real cluster's for the same template but has the same shape (the decimal
    digits of a 32-bit hash, each mapped onto the alphabet: usually 10 characters).
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return safe_encode(str(value))


def stable_id(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


# label selectors ----------------------------------------------------------------------------------


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        if self.op in ("=", "in"):
            return labels.get(self.key) in self.values
        # "!=" and "notin" match objects without the label too (as Kubernetes does)
        return labels.get(self.key) not in self.values


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def parse_selector(text: str) -> tuple[Requirement, ...]:
    """Parse kubectl's `-l` syntax into requirements (all must match)."""
    reqs: list[Requirement] = []
    for part in _split_selector(text):
        part = part.strip()
        if not part:
            continue
        set_match = re.fullmatch(r"(!?)\s*([^\s!=()]+)\s+(in|notin)\s+\((.*)\)", part)
        if set_match:
            values = tuple(v.strip() for v in set_match.group(4).split(",") if v.strip())
            reqs.append(Requirement(_key(set_match.group(2)), set_match.group(3), values))
            continue
        eq = re.fullmatch(r"([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)", part)
        if eq:
            op = "!=" if eq.group(2) == "!=" else "="
            reqs.append(Requirement(_key(eq.group(1)), op, (eq.group(3),)))
            continue
        if part.startswith("!"):
            reqs.append(Requirement(_key(part[1:].strip()), "!"))
            continue
        reqs.append(Requirement(_key(part), "exists"))
    return tuple(reqs)


def _key(key: str) -> str:
    if not _LABEL_KEY.match(key):
        raise SelectorError(f'unable to parse requirement: invalid label key "{key}"')
    return key


def _split_selector(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str] | None) -> bool:
    found = labels or {}
    return all(r.matches(found) for r in requirements)


def match_labels_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """A LabelSelector object (`matchLabels` + `matchExpressions`) against labels.

    An empty selector matches everything (for workloads, the API requires a non-empty one).
    """
    if not selector:
        return True
    found = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if found.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        op = str(expr.get("operator", ""))
        key = str(expr.get("key", ""))
        values = tuple(str(v) for v in expr.get("values") or [])
        mapped = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(op)
        if mapped is None or not Requirement(key, mapped, values).matches(found):
            return False
    return True


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def ref(obj: Mapping[str, Any]) -> str:
    """`deployment.apps/awscli-app`: how kubectl names an object in apply/delete/get -o name."""
    return f"{BY_KIND[str(obj['kind'])].resource}/{obj['metadata']['name']}"
