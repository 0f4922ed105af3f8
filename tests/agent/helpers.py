"""Test helpers: projected-token look-alikes and an agent started on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import jwt


def make_token(
    now: datetime,
    *,
    lifetime: float = 3600.0,
    pod_uid: str | None = None,
    not_before: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A token shaped like a kubelet-projected one (HS256: the agent never checks signatures)."""
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "aud": ["pods.eks.amazonaws.com"],
        "iss": "https://oidc.example.test/id/CLUSTER",
        "sub": "system:serviceaccount:default:app",
        "iat": issued,
        "exp": issued + int(lifetime),
        "nbf": issued if not_before is None else int(not_before),
        "kubernetes.io": {
            "namespace": "default",
            "pod": {"name": "app-1", "uid": pod_uid or str(uuid.uuid4())},
            "serviceaccount": {"name": "app", "uid": str(uuid.uuid4())},
        },
    }
    claims.update(extra or {})
    return jwt.encode(claims, "test-secret-not-checked-by-the-agent-0123456789", algorithm="HS256")
