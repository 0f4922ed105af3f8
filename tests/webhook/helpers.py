"""Shared test helpers: a fixed-low RNG, case loading, and checks that a patched pod is valid."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonpatch
import kubernetes_validate  # type: ignore[import-untyped]

from podid.webhook.admit import apply_patch

CASES_DIR = Path(__file__).parent / "cases"
K8S_VERSION = "1.33"


class LowRandom(random.Random):
    """randint always answers its lower bound, so the jitter rule yields exactly 79200."""

    def randint(self, a: int, b: int) -> int:
        return a


def load_case(name: str) -> dict[str, Any]:
    data = json.loads((CASES_DIR / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.json"))


def apply_and_validate(pod: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply with the `jsonpatch` library and with podid's applier; both must agree; then validate."""
    by_library = jsonpatch.apply_patch(pod, ops)
    by_podid = apply_patch(pod, ops)
    assert by_library == by_podid
    assert_valid_pod(by_library)
    return dict(by_library)


def assert_valid_pod(pod: dict[str, Any]) -> None:
    """Schema-valid (kubernetes-validate, strict: no unknown fields) plus the API server's list rules."""
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    spec = pod["spec"]
    volumes = [v["name"] for v in spec.get("volumes") or []]
    assert len(volumes) == len(set(volumes)), f"duplicate volume names: {volumes}"
    for container in (spec.get("initContainers") or []) + spec["containers"]:
        mounts = container.get("volumeMounts") or []
        paths = [m["mountPath"] for m in mounts]
        assert len(paths) == len(set(paths)), f"duplicate mountPath in {container['name']}: {paths}"
        for mount in mounts:
            assert mount["name"] in volumes, f"mount of unknown volume {mount['name']}"
        env_names = [e["name"] for e in container.get("env") or []]
        assert len(env_names) == len(set(env_names)), f"duplicate env in {container['name']}: {env_names}"
