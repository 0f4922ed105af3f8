"""Manifests in, objects out: parsing, validation, API-server defaults, and apply/delete semantics.

`kubectl apply -f` sends each document of a multi-document YAML file; this module decides what the
API server would: refuse kinds the local cluster does not serve (with kubectl's own message, never
silently), refuse a namespaced object whose namespace does not exist, fill the defaults the API
server fills (so `-o yaml` looks like a real cluster's), and report `created`, `configured` or
`unchanged` by comparing with the `kubectl.kubernetes.io/last-applied-configuration` annotation, as
client-side apply does.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from podid.kube.model import BY_KIND, Obj, ref
from podid.kube.objects import ObjectStore

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class KubeError(Exception):
    """An error as kubectl prints it (`Error from server (NotFound): ...`); `status` for the API."""

    def __init__(self, message: str, status: int = 400, reason: str = "BadRequest") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


def not_found(resource_plural: str, name: str) -> KubeError:
    return KubeError(f'Error from server (NotFound): {resource_plural} "{name}" not found', 404, "NotFound")


def load_documents(text: str, source: str) -> list[Obj]:
    """The non-empty documents of a (multi-document) YAML or JSON manifest; `List` kinds flattened."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise KubeError(f"error: error parsing {source}: error converting YAML to JSON: {exc}") from exc
    out: list[Obj] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise KubeError(f"error: error parsing {source}: each document must be a mapping (an object)")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            out.append(doc)
    return out


def check_document(doc: Obj, source: str) -> None:
    """Refuse what the API server (or kubectl's schema validation) would refuse."""
    kind = doc.get("kind")
    api_version = doc.get("apiVersion")
    if not kind or not api_version:
        missing = "apiVersion" if not api_version else "kind"
        raise KubeError(
            f'error: error validating "{source}": error validating data: {missing} not set; '
            "if you choose to ignore these errors, turn validation off with --validate=false"
        )
    meta = doc.get("metadata") or {}
    name = meta.get("name", "")
    namespace = meta.get("namespace", "")
    known = BY_KIND.get(str(kind))
    if known is None or not known.applyable or known.api_version != api_version:
        raise KubeError(
            f'error: resource mapping not found for name: "{name}" namespace: "{namespace}" from '
            f'"{source}": no matches for kind "{kind}" in version "{api_version}"\n'
            "ensure CRDs are installed first "
            f"(podid's local cluster serves: {', '.join(k.kind for k in BY_KIND.values() if k.applyable)})"
        )
    if not isinstance(meta, dict) or not name:
        raise KubeError(
            f'error: error when retrieving current configuration of {kind} from "{source}": '
            "resource name may not be empty"
        )
    if not _NAME.match(str(name)) or len(str(name)) > 253:
        raise KubeError(
            f'The {kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase RFC 1123 '
            "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
            "and end with an alphanumeric character",
            422,
            "Invalid",
        )
    if kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        spec = doc.get("spec") or {}
        selector = spec.get("selector") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            raise KubeError(f'The {kind} "{name}" is invalid: spec.selector: Required value', 422, "Invalid")
        for key, value in (selector.get("matchLabels") or {}).items():
            if labels.get(key) != value:
                raise KubeError(
                    f'The {kind} "{name}" is invalid: spec.template.metadata.labels: Invalid value: '
                    f"{json.dumps(labels)}: `selector` does not match template `labels`",
                    422,
                    "Invalid",
                )
        if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
            raise KubeError(
                f'The {kind} "{name}" is invalid: spec.template.spec.containers: Required value',
                422,
                "Invalid",
            )
    if kind == "Pod" and not (doc.get("spec") or {}).get("containers"):
        raise KubeError(f'The Pod "{name}" is invalid: spec.containers: Required value', 422, "Invalid")


def default_pod_spec(spec: Obj) -> Obj:
    """The defaults the API server fills in a PodSpec."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
        container.setdefault("resources", {})
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
    for volume in spec.get("volumes") or []:
        if "projected" in volume:
            volume["projected"].setdefault("defaultMode", 420)
    return spec


def apply_defaults(obj: Obj) -> Obj:
    kind = obj["kind"]
    meta = obj.setdefault("metadata", {})
    if kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
    elif kind == "Pod":
        default_pod_spec(obj.setdefault("spec", {}))
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        spec = obj.setdefault("spec", {})
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            )
        if kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            )
        template = spec.setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        default_pod_spec(template.setdefault("spec", {}))
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    return obj


@dataclass(frozen=True)
class Outcome:
    ref: str  # deployment.apps/awscli-app
    action: str  # created | configured | unchanged | deleted


def apply_document(objects: ObjectStore, doc: Obj, source: str, default_namespace: str) -> Outcome:
    """Create or update one object as `kubectl apply` does (client-side apply)."""
    check_document(doc, source)
    kind = BY_KIND[str(doc["kind"])]
    applied = copy.deepcopy(doc)
    applied.setdefault("metadata", {})
    if kind.namespaced:
        applied["metadata"].setdefault("namespace", default_namespace)
    elif "namespace" in applied["metadata"]:
        del applied["metadata"]["namespace"]
    namespace = str(applied["metadata"].get("namespace", ""))
    name = str(applied["metadata"]["name"])
    if kind.namespaced and objects.get("Namespace", "", namespace) is None:
        raise KubeError(
            f'Error from server (NotFound): error when creating "{source}": '
            f'namespaces "{namespace}" not found',
            404,
            "NotFound",
        )
    last = json.dumps(applied, sort_keys=True, separators=(",", ":")) + "\n"
    current = objects.get(kind.kind, namespace, name)
    desired = copy.deepcopy(applied)
    desired.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = last
    desired.pop("status", None)
    apply_defaults(desired)
    if current is None:
        objects.create(desired)
        return Outcome(ref(desired), "created")
    if (current["metadata"].get("annotations") or {}).get(LAST_APPLIED) == last:
        return Outcome(ref(current), "unchanged")
    previous = _last_applied(current)
    merged = copy.deepcopy(current)
    for key, value in desired.items():
        if key not in ("metadata", "status", "apiVersion", "kind"):
            merged[key] = value
    if kind.kind == "Pod" and applied.get("spec") == previous.get("spec"):
        merged["spec"] = current["spec"]  # only metadata changed: the admitted spec stays
    for key in ("labels", "annotations"):
        # a three-way merge of maps: keys set by others (the webhook, controllers) are kept,
        # keys this manifest set before and no longer sets are removed
        before = (previous.get("metadata") or {}).get(key) or {}
        kept = {k: v for k, v in (current["metadata"].get(key) or {}).items() if k not in before}
        merged["metadata"][key] = {**kept, **(desired["metadata"].get(key) or {})}
        if not merged["metadata"][key]:
            del merged["metadata"][key]
    if kind.kind == "Namespace":
        merged["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    if kind.kind == "Pod" and merged.get("spec") != current.get("spec"):
        raise KubeError(
            f'The Pod "{name}" is invalid: spec: Forbidden: pod updates may not change fields other than '
            "`spec.containers[*].image`, `spec.initContainers[*].image`, "
            "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) "
            "or `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            422,
            "Invalid",
        )
    objects.update(merged, spec_changed=merged.get("spec") != current.get("spec"))
    return Outcome(ref(current), "configured")


def _last_applied(obj: Obj) -> Obj:
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def delete_target(doc: Obj, source: str, default_namespace: str) -> tuple[str, str, str]:
    """(kind, namespace, name) that `kubectl delete -f` addresses for one document."""
    check_document(doc, source)
    kind = BY_KIND[str(doc["kind"])]
    meta = doc.get("metadata") or {}
    namespace = str(meta.get("namespace") or default_namespace) if kind.namespaced else ""
    return kind.kind, namespace, str(meta["name"])


def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}
