"""Admitting a pod in-process, the way the API server does with the webhook's answer.

The local cluster runtime creates pods without an API server; it calls `admit_pod`, which wraps
the pod in an `admission.k8s.io/v1` AdmissionReview (operation CREATE), runs the very `review`
function the HTTPS server runs, and applies the returned JSONPatch (RFC 6902) to a copy of the pod.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import uuid
from typing import Any

from podid.webhook.config import IdentitySource, ServiceAccountSource, WebhookConfig
from podid.webhook.mutate import ADMISSION_V1, review


class PatchError(Exception):
    """A JSONPatch that cannot be applied to the document (RFC 6902 §5: the whole patch fails)."""


class AdmissionDenied(Exception):
    """The webhook answered `allowed: false`; the message is its `status.message`."""


def admission_review_for(pod: dict[str, Any], namespace: str, uid: str | None = None) -> dict[str, Any]:
    """An AdmissionReview request for creating `pod` in `namespace`, as the API server sends it."""
    meta = pod.get("metadata")
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    return {
        "apiVersion": ADMISSION_V1,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def admit_pod(
    pod: dict[str, Any],
    namespace: str,
    config: WebhookConfig,
    identities: IdentitySource,
    service_accounts: ServiceAccountSource | None = None,
    rng: random.Random | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the pod as admitted, the AdmissionReview response). Raises AdmissionDenied."""
    answer = review(admission_review_for(pod, namespace), config, identities, service_accounts, rng)
    response = answer["response"]
    if not response.get("allowed"):
        raise AdmissionDenied(str(response.get("status", {}).get("message", "denied by the webhook")))
    if "patch" not in response:
        return copy.deepcopy(pod), answer
    ops = json.loads(base64.b64decode(response["patch"]))
    return apply_patch(pod, ops), answer


def apply_patch(document: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply an RFC 6902 JSON Patch to a copy of `document` (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(document)
    for op in ops:
        kind = op.get("op")
        path = op.get("path")
        if not isinstance(path, str):
            raise PatchError(f"operation {op!r} has no path")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f"{kind} operation needs 'from'")
            if kind == "move":
                doc, value = _remove(doc, source)
            else:
                value = copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"test failed at {path}")
        else:
            raise PatchError(f"unknown operation {kind!r}")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container: list[Any], token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of range")
    return index


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise PatchError("the root has no parent")
    target = doc
    for token in tokens[:-1]:
        target = _step(target, token)
    return target, tokens[-1]


def _step(target: Any, token: str) -> Any:
    if isinstance(target, dict):
        if token not in target:
            raise PatchError(f"member {token!r} does not exist")
        return target[token]
    if isinstance(target, list):
        return target[_index(target, token, allow_end=False)]
    raise PatchError(f"cannot descend into a {type(target).__name__} at {token!r}")


def _get(doc: Any, path: str) -> Any:
    target = doc
    for token in _tokens(path):
        target = _step(target, token)
    return target


def _add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return value
    parent, token = _parent(doc, path)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, allow_end=True), value)
    else:
        raise PatchError(f"cannot add to a {type(parent).__name__} at {path}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parent, token = _parent(doc, path)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"member {token!r} does not exist")
        return doc, parent.pop(token)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, token, allow_end=False))
    raise PatchError(f"cannot remove from a {type(parent).__name__} at {path}")
