"""The `eks-pod-identity-agent` add-on as the local cluster runs it: its DaemonSet.

Shaped like the add-on's chart (labels, hostNetwork, no service-account token, readiness on the
probe port); the container runs `podid agent` in place of the agent's image. The runtime appends a
node's specifics at launch (see `podid.kube.nodes.Node.agent_args`).
"""

from __future__ import annotations

from typing import Any

from podid.kube.model import Obj
from podid.kube.ports import ClusterInfo

AGENT_ADDON = "eks-pod-identity-agent"
AGENT_LABEL = "app.kubernetes.io/name"
AGENT_VERSION = "v0.1.37"


def agent_daemonset(cluster: ClusterInfo) -> Obj:
    """The add-on's DaemonSet, shaped like the eks-pod-identity-agent chart's (podid agent as the image)."""
    labels = {AGENT_LABEL: AGENT_ADDON, "app.kubernetes.io/instance": AGENT_ADDON}
    probe: dict[str, Any] = {
        "httpGet": {"host": "localhost", "path": "/readyz", "port": "probes-port", "scheme": "HTTP"},
        "initialDelaySeconds": 1,
        "timeoutSeconds": 10,
        "failureThreshold": 30,
        "periodSeconds": 10,
        "successThreshold": 1,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": AGENT_ADDON,
            "namespace": "kube-system",
            "labels": {**labels, "app.kubernetes.io/version": AGENT_VERSION.lstrip("v")},
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "automountServiceAccountToken": False,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": AGENT_ADDON,
                            "image": f"podid/eks-pod-identity-agent:{AGENT_VERSION}",
                            "command": ["podid", "agent"],
                            "args": [
                                "--port",
                                "80",
                                "--cluster-name",
                                cluster.name,
                                "--probe-port",
                                "2703",
                                "--metrics-port",
                                "2705",
                                "--rotate-credentials",
                                "true",
                            ],
                            "env": [{"name": "AWS_REGION", "value": cluster.region}],
                            "ports": [
                                {"containerPort": 80, "name": "proxy", "protocol": "TCP"},
                                {"containerPort": 2703, "name": "probes-port", "protocol": "TCP"},
                                {"containerPort": 2705, "name": "metrics", "protocol": "TCP"},
                            ],
                            "livenessProbe": {
                                **probe,
                                "httpGet": {**probe["httpGet"], "path": "/healthz"},
                                "initialDelaySeconds": 30,
                                "failureThreshold": 3,
                            },
                            "readinessProbe": probe,
                            "securityContext": {"capabilities": {"add": ["CAP_NET_BIND_SERVICE"]}},
                        }
                    ],
                },
            },
        },
    }
