"""kubectl's output formats: the tables of `get` (and `-o wide`), `-o yaml|json|name`, `describe pod`.

Columns, their order and their values are kubectl's (the printers registered in
k8s.io/kubernetes/pkg/printers/internalversion); tables go through a Go-tabwriter equivalent with
kubectl's settings (minwidth 6, padding 3, last column not padded), AGE is HumanDuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import yaml

from podid.kube.model import BY_KIND, Kind, Obj, human_duration, parse_time


def tabwrite(rows: Sequence[Sequence[str]], minwidth: int = 6, padding: int = 3) -> str:
    """text/tabwriter with kubectl's settings: each cell but the last padded to its column's width."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    lines = []
    for row in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        parts.append(row[-1] if row else "")
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def age(obj: Obj, now: datetime) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    return human_duration(now - parse_time(str(created)))


def _selector_text(selector: dict[str, Any] | None) -> str:
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(str(expr["key"]))
        else:
            parts.append(f"!{expr['key']}")
    return ",".join(parts) or "<none>"


def _containers_images(template_spec: dict[str, Any]) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def pod_status_text(pod: Obj) -> str:
    """kubectl's STATUS column (printPod): phase, or the most telling container reason."""
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Pending")
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    n_init = len((pod.get("spec") or {}).get("initContainers") or [])
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif (state.get("waiting") or {}).get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + str(state["waiting"]["reason"])
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif term and term.get("reason"):
                reason = str(term["reason"])
            elif term:
                sig = term.get("signal")
                reason = f"Signal:{sig}" if sig else f"ExitCode:{term.get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_restarts(pod: Obj, now: datetime) -> str:
    restarts = 0
    last: datetime | None = None
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        restarts += int(cs.get("restartCount", 0))
        finished = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished:
            when = parse_time(str(finished))
            last = when if last is None or when > last else last
    if restarts and last is not None:
        return f"{restarts} ({human_duration(now - last)} ago)"
    return str(restarts)


def _pod_row(pod: Obj, now: datetime, wide: bool) -> list[str]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    row = [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        pod_status_text(pod),
        _pod_restarts(pod, now),
        age(pod, now),
    ]
    if wide:
        row += [
            str(status.get("podIP") or "<none>"),
            str((pod.get("spec") or {}).get("nodeName") or "<none>"),
            "<none>",
            "<none>",
        ]
    return row


def _deploy_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    row = [
        obj["metadata"]["name"],
        f"{int(status.get('readyReplicas', 0))}/{int(spec.get('replicas', 1))}",
        str(int(status.get("updatedReplicas", 0))),
        str(int(status.get("availableReplicas", 0))),
        age(obj, now),
    ]
    if wide:
        row += [
            *_containers_images((spec.get("template") or {}).get("spec") or {}),
            _selector_text(spec.get("selector")),
        ]
    return row


def _rs_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    row = [
        obj["metadata"]["name"],
        str(int(spec.get("replicas", 1))),
        str(int(status.get("replicas", 0))),
        str(int(status.get("readyReplicas", 0))),
        age(obj, now),
    ]
    if wide:
        row += [
            *_containers_images((spec.get("template") or {}).get("spec") or {}),
            _selector_text(spec.get("selector")),
        ]
    return row


def _ds_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    row = [
        obj["metadata"]["name"],
        str(int(status.get("desiredNumberScheduled", 0))),
        str(int(status.get("currentNumberScheduled", 0))),
        str(int(status.get("numberReady", 0))),
        str(int(status.get("updatedNumberScheduled", 0))),
        str(int(status.get("numberAvailable", 0))),
        ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>",
        age(obj, now),
    ]
    if wide:
        row += [
            *_containers_images((spec.get("template") or {}).get("spec") or {}),
            _selector_text(spec.get("selector")),
        ]
    return row


def _node_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    status = obj.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    info = status.get("nodeInfo") or {}
    row = [
        obj["metadata"]["name"],
        "Ready" if ready else "NotReady",
        "<none>",
        age(obj, now),
        str(info.get("kubeletVersion", "")),
    ]
    if wide:
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        row += [
            str(addresses.get("InternalIP") or "<none>"),
            str(addresses.get("ExternalIP") or "<none>"),
            str(info.get("osImage", "")),
            str(info.get("kernelVersion", "")),
            str(info.get("containerRuntimeVersion", "")),
        ]
    return row


_Row = Callable[[Obj, datetime, bool], list[str]]
COLUMNS: dict[str, tuple[list[str], list[str], _Row]] = {
    "Pod": (
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        _pod_row,
    ),
    "Deployment": (
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _deploy_row,
    ),
    "ReplicaSet": (
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _rs_row,
    ),
    "DaemonSet": (
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _ds_row,
    ),
    "ServiceAccount": (
        ["NAME", "SECRETS", "AGE"],
        [],
        lambda o, n, w: [o["metadata"]["name"], str(len(o.get("secrets") or [])), age(o, n)],
    ),
    "Namespace": (
        ["NAME", "STATUS", "AGE"],
        [],
        lambda o, n, w: [
            o["metadata"]["name"],
            str((o.get("status") or {}).get("phase", "Active")),
            age(o, n),
        ],
    ),
    "ConfigMap": (
        ["NAME", "DATA", "AGE"],
        [],
        lambda o, n, w: [
            o["metadata"]["name"],
            str(len(o.get("data") or {}) + len(o.get("binaryData") or {})),
            age(o, n),
        ],
    ),
    "Secret": (
        ["NAME", "TYPE", "DATA", "AGE"],
        [],
        lambda o, n, w: [
            o["metadata"]["name"],
            str(o.get("type", "Opaque")),
            str(len(o.get("data") or {}) + len(o.get("stringData") or {})),
            age(o, n),
        ],
    ),
    "Node": (
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        _node_row,
    ),
}


def table(
    kind: Kind,
    items: Sequence[Obj],
    now: datetime,
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    show_kind: bool = False,
) -> str:
    """The `kubectl get` table for objects of one kind."""
    headers, wide_headers, row = COLUMNS[kind.kind]
    head = list(headers) + (list(wide_headers) if wide else [])
    if all_namespaces and kind.namespaced:
        head = ["NAMESPACE", *head]
    rows = [head]
    for obj in items:
        cells = row(obj, now, wide)
        if show_kind:
            cells[0] = f"{kind.resource}/{cells[0]}"
        if all_namespaces and kind.namespaced:
            cells = [str(obj["metadata"].get("namespace", "")), *cells]
        rows.append(cells)
    return tabwrite(rows)


def as_list(items: Sequence[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": list(items), "kind": "List", "metadata": {"resourceVersion": ""}}


def to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True, width=10**9)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def name_line(obj: Obj) -> str:
    return f"{BY_KIND[str(obj['kind'])].resource}/{obj['metadata']['name']}"
