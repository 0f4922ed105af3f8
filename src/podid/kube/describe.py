"""`kubectl describe pod`: the same sections, labels and alignment as kubectl prints them.

podid records no Events, so the Events section reads `<none>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from podid.kube.model import Obj, parse_time


def _rfc1123(text: str | None) -> str:
    if not text:
        return "<unknown>"
    return parse_time(text).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _kv_block(pairs: dict[str, str] | None, indent: int) -> list[str]:
    if not pairs:
        return ["<none>"]
    return [f"{k}={v}" for k, v in sorted(pairs.items())]


class _Writer:
    """kubectl's PrefixWriter + tabwriter: `Label:` then the value, aligned per block."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, str | None]] = []

    def line(self, level: int, label: str, value: str | None = None) -> None:
        self.rows.append((level, label, value))

    def render(self) -> str:
        # tabwriter(minwidth 0, padding 2): consecutive lines with a value form one column block,
        # the indentation counts in the first column's width
        out: list[str] = []
        i = 0
        while i < len(self.rows):
            if self.rows[i][2] is None:
                level, label, _ = self.rows[i]
                out.append("  " * level + label)
                i += 1
                continue
            j = i
            while j < len(self.rows) and self.rows[j][2] is not None:
                j += 1
            block = self.rows[i:j]
            width = max(len("  " * lvl + label) for lvl, label, _ in block) + 2
            for lvl, label, value in block:
                out.append(("  " * lvl + label).ljust(width) + str(value))
            i = j
        return "\n".join(line.rstrip() for line in out) + "\n"


def _multi(w: _Writer, level: int, label: str, values: list[str]) -> None:
    w.line(level, label + ":", values[0] if values else "<none>")
    for value in values[1:]:
        w.line(level, "", value)


def _state(w: _Writer, level: int, label: str, state: dict[str, Any]) -> None:
    if "running" in state:
        w.line(level, f"{label}:", "Running")
        w.line(level + 1, "Started:", _rfc1123(state["running"].get("startedAt")))
    elif "terminated" in state:
        t = state["terminated"]
        w.line(level, f"{label}:", "Terminated")
        w.line(level + 1, "Reason:", str(t.get("reason", "")))
        if t.get("message"):
            w.line(level + 1, "Message:", str(t["message"]))
        w.line(level + 1, "Exit Code:", str(t.get("exitCode", "")))
        w.line(level + 1, "Started:", _rfc1123(t.get("startedAt")))
        w.line(level + 1, "Finished:", _rfc1123(t.get("finishedAt")))
    elif "waiting" in state:
        w.line(level, f"{label}:", "Waiting")
        w.line(level + 1, "Reason:", str(state["waiting"].get("reason", "")))
        if state["waiting"].get("message"):
            w.line(level + 1, "Message:", str(state["waiting"]["message"]))


def describe_pod(pod: Obj, now: datetime) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    w = _Writer()
    w.line(0, "Name:", meta["name"])
    w.line(0, "Namespace:", meta.get("namespace", "default"))
    w.line(0, "Priority:", str(spec.get("priority", 0)))
    if spec.get("priorityClassName"):
        w.line(0, "Priority Class Name:", spec["priorityClassName"])
    w.line(0, "Service Account:", spec.get("serviceAccountName", "default"))
    node = spec.get("nodeName")
    w.line(0, "Node:", f"{node}/{status.get('hostIP', '')}" if node else "<none>")
    w.line(0, "Start Time:", _rfc1123(status.get("startTime")))
    _multi(w, 0, "Labels", _kv_block(meta.get("labels"), 0))
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    _multi(w, 0, "Annotations", _kv_block(annotations, 0))
    w.line(
        0, "Status:", "Terminating" if meta.get("deletionTimestamp") else str(status.get("phase", "Pending"))
    )
    w.line(0, "IP:", str(status.get("podIP", "")))
    w.line(0, "IPs:", None if status.get("podIP") else "<none>")
    if status.get("podIP"):
        w.line(1, "IP:", str(status["podIP"]))
    owners = meta.get("ownerReferences") or []
    if owners:
        w.line(0, "Controlled By:", f"{owners[0]['kind']}/{owners[0]['name']}")
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    init_statuses = {s.get("name"): s for s in status.get("initContainerStatuses") or []}
    for section, containers, found in (
        ("Init Containers:", spec.get("initContainers") or [], init_statuses),
        ("Containers:", spec.get("containers") or [], statuses),
    ):
        if not containers:
            continue
        w.line(0, section)
        for c in containers:
            cs = found.get(c["name"]) or {}
            w.line(1, f"{c['name']}:")
            w.line(2, "Container ID:", str(cs.get("containerID", "")))
            w.line(2, "Image:", str(c.get("image", "")))
            w.line(2, "Image ID:", str(cs.get("imageID", "")))
            ports = c.get("ports") or []
            w.line(
                2,
                "Port:",
                ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>",
            )
            w.line(
                2,
                "Host Port:",
                ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>",
            )
            if c.get("command"):
                w.line(2, "Command:")
                for part in c["command"]:
                    w.line(3, str(part))
            if c.get("args"):
                w.line(2, "Args:")
                for part in c["args"]:
                    w.line(3, str(part))
            _state(w, 2, "State", cs.get("state") or {"waiting": {"reason": "ContainerCreating"}})
            if cs.get("lastState") or {}:
                _state(w, 2, "Last State", cs["lastState"])
            w.line(2, "Ready:", "True" if cs.get("ready") else "False")
            w.line(2, "Restart Count:", str(cs.get("restartCount", 0)))
            env = c.get("env") or []
            if env:
                w.line(2, "Environment:")
                for var in env:
                    if "valueFrom" in var:
                        source = var["valueFrom"]
                        ref: dict[str, Any] = next(iter(source.values()), {})
                        desc = (
                            f"<set to the key '{ref.get('key', '')}' of '{ref.get('name', '')}'>"
                            if "key" in ref
                            else f"({ref.get('fieldPath', '')})"
                        )
                        w.line(3, f"{var['name']}:", desc)
                    else:
                        w.line(3, f"{var['name']}:", str(var.get("value", "")))
            else:
                w.line(2, "Environment:", "<none>")
            mounts = c.get("volumeMounts") or []
            if mounts:
                w.line(2, "Mounts:")
                for m in mounts:
                    w.line(3, f"{m['mountPath']} from {m['name']} ({'ro' if m.get('readOnly') else 'rw'})")
            else:
                w.line(2, "Mounts:", "<none>")
    w.line(0, "Conditions:")
    w.line(1, "Type", "Status")
    for cond in status.get("conditions") or []:
        w.line(1, str(cond["type"]), str(cond["status"]))
    volumes = spec.get("volumes") or []
    if volumes:
        w.line(0, "Volumes:")
        for v in volumes:
            w.line(1, f"{v['name']}:")
            if "projected" in v:
                w.line(2, "Type:", "Projected (a volume that contains injected data from multiple sources)")
                for source in v["projected"].get("sources") or []:
                    if "serviceAccountToken" in source:
                        w.line(
                            2,
                            "TokenExpirationSeconds:",
                            str(source["serviceAccountToken"].get("expirationSeconds", 3600)),
                        )
                    elif "configMap" in source:
                        w.line(2, "ConfigMapName:", str(source["configMap"].get("name", "")))
                    elif "downwardAPI" in source:
                        w.line(2, "DownwardAPI:", "true")
            elif "configMap" in v:
                w.line(2, "Type:", "ConfigMap (a volume populated by a ConfigMap)")
                w.line(2, "Name:", str(v["configMap"].get("name", "")))
            elif "secret" in v:
                w.line(2, "Type:", "Secret (a volume populated by a Secret)")
                w.line(2, "SecretName:", str(v["secret"].get("secretName", "")))
            elif "emptyDir" in v:
                w.line(2, "Type:", "EmptyDir (a temporary directory that shares a pod's lifetime)")
    else:
        w.line(0, "Volumes:", "<none>")
    w.line(0, "QoS Class:", str(status.get("qosClass", "BestEffort")))
    _multi(w, 0, "Node-Selectors", _kv_block(spec.get("nodeSelector"), 0))
    tolerations = [
        f"{t.get('key', '')}{':' + t['effect'] if t.get('effect') else ''} op={t.get('operator', 'Equal')}"
        if t.get("key")
        else f"op={t.get('operator', 'Exists')}"
        for t in spec.get("tolerations") or []
    ]
    _multi(w, 0, "Tolerations", tolerations or ["<none>"])
    w.line(0, "Events:", "<none>")
    return w.render()
