"""kubectl's output, compared with literal text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podid.kube.describe import describe_pod
from podid.kube.model import BY_KIND
from podid.kube.printers import as_list, pod_status_text, table, tabwrite, to_json, to_yaml

NOW = datetime(2026, 11, 28, 21, 0, 0, tzinfo=UTC)


def pod(
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    restarts: int = 0,
    state: dict[str, Any] | None = None,
    created: str = "2026-11-28T20:29:00Z",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "demo-ns",
            "creationTimestamp": created,
            "labels": {"app": "awscli-app"},
            **extra.get("meta", {}),
        },
        "spec": {
            "nodeName": "ip-169-254-3-2.us-west-2.compute.internal",
            "serviceAccountName": "demo-sa",
            "containers": [
                {"name": "aws-cli-app", "image": "amazon/aws-cli:latest", "command": ["sleep", "infinity"]}
            ],
        },
        "status": {
            "phase": phase,
            "podIP": "169.254.3.2",
            "hostIP": "169.254.3.2",
            "startTime": "2026-11-28T20:29:01Z",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "aws-cli-app",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state or {"running": {"startedAt": "2026-11-28T20:29:01Z"}},
                    "lastState": {},
                }
            ],
        },
    }


def test_tabwriter_like_kubectl() -> None:
    assert tabwrite([["NAME", "AGE"], ["a", "1s"]]) == "NAME   AGE\na      1s\n"
    assert tabwrite([["A", "B", "C"], ["longer", "x", "y"]]) == "A        B     C\nlonger   x     y\n"


def test_pod_table() -> None:
    items = [
        pod("awscli-app-78c6cf97f4-qj7xm"),
        pod("awscli-app-78c6cf97f4-x2bzl", created="2026-11-28T20:58:30Z"),
    ]
    assert table(BY_KIND["Pod"], items, NOW) == (
        "NAME                          READY   STATUS    RESTARTS   AGE\n"
        "awscli-app-78c6cf97f4-qj7xm   1/1     Running   0          31m\n"
        "awscli-app-78c6cf97f4-x2bzl   1/1     Running   0          90s\n"
    )
    assert table(BY_KIND["Pod"], items[:1], NOW, wide=True, all_namespaces=True) == (
        "NAMESPACE   NAME                          READY   STATUS    RESTARTS   AGE   IP            "
        "NODE                                        NOMINATED NODE   READINESS GATES\n"
        "demo-ns     awscli-app-78c6cf97f4-qj7xm   1/1     Running   0          31m   169.254.3.2   "
        "ip-169-254-3-2.us-west-2.compute.internal   <none>           <none>\n"
    )


def test_pod_status_column() -> None:
    waiting = pod("p", phase="Pending", ready=False, state={"waiting": {"reason": "ContainerCreating"}})
    assert pod_status_text(waiting) == "ContainerCreating"
    crash = pod("p", ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}})
    assert pod_status_text(crash) == "CrashLoopBackOff"
    done = pod(
        "p", phase="Succeeded", ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}}
    )
    assert pod_status_text(done) == "Completed"
    killed = pod("p", phase="Failed", ready=False, state={"terminated": {"exitCode": 137, "signal": 9}})
    assert pod_status_text(killed) == "Signal:9"
    gone = pod("p", meta={"deletionTimestamp": "2026-11-28T21:00:00Z"})
    assert pod_status_text(gone) == "Terminating"


def test_restarts_column_shows_last_restart() -> None:
    p = pod("p", restarts=2)
    p["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"finishedAt": "2026-11-28T20:59:00Z"}}
    assert table(BY_KIND["Pod"], [p], NOW).splitlines()[1] == "p      1/1     Running   2 (60s ago)   31m"


def test_workload_tables() -> None:
    deploy = {
        "kind": "Deployment",
        "metadata": {"name": "awscli-app", "creationTimestamp": "2026-11-28T20:00:00Z"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "awscli-app"}},
            "template": {"spec": {"containers": [{"name": "aws-cli-app", "image": "amazon/aws-cli"}]}},
        },
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1},
    }
    assert table(BY_KIND["Deployment"], [deploy], NOW, wide=True) == (
        "NAME         READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS    IMAGES           SELECTOR\n"
        "awscli-app   1/2     2            1           60m   aws-cli-app   amazon/aws-cli   app=awscli-app\n"
    )
    ns = {
        "kind": "Namespace",
        "metadata": {"name": "demo-ns", "creationTimestamp": "2026-11-26T21:00:00Z"},
        "status": {"phase": "Active"},
    }
    assert table(BY_KIND["Namespace"], [ns], NOW) == "NAME      STATUS   AGE\ndemo-ns   Active   2d\n"
    sa = {
        "kind": "ServiceAccount",
        "metadata": {"name": "demo-sa", "creationTimestamp": "2026-11-28T20:59:55Z"},
    }
    assert table(BY_KIND["ServiceAccount"], [sa], NOW, show_kind=True) == (
        "NAME                     SECRETS   AGE\nserviceaccount/demo-sa   0         5s\n"
    )


def test_yaml_and_json() -> None:
    obj = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"}}
    assert to_yaml(obj) == "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
    assert to_json(as_list([obj])) == (
        '{\n    "apiVersion": "v1",\n    "items": [\n        {\n            "kind": "Namespace",\n'
        '            "apiVersion": "v1",\n            "metadata": {\n                "name": "x"\n'
        '            }\n        }\n    ],\n    "kind": "List",\n    "metadata": {\n'
        '        "resourceVersion": ""\n    }\n}\n'
    )


def test_describe_pod() -> None:
    p = pod("awscli-app-78c6cf97f4-qj7xm")
    p["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "awscli-app-78c6cf97f4"}]
    p["spec"]["containers"][0]["env"] = [{"name": "AWS_REGION", "value": "us-west-2"}]
    p["spec"]["containers"][0]["volumeMounts"] = [
        {
            "name": "eks-pod-identity-token",
            "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
            "readOnly": True,
        }
    ]
    p["spec"]["volumes"] = [
        {
            "name": "eks-pod-identity-token",
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": "pods.eks.amazonaws.com",
                            "expirationSeconds": 86400,
                            "path": "eks-pod-identity-token",
                        }
                    }
                ]
            },
        }
    ]
    text = describe_pod(p, NOW)
    assert (
        text
        == """\
Name:             awscli-app-78c6cf97f4-qj7xm
Namespace:        demo-ns
Priority:         0
Service Account:  demo-sa
Node:             ip-169-254-3-2.us-west-2.compute.internal/169.254.3.2
Start Time:       Sat, 28 Nov 2026 20:29:01 +0000
Labels:           app=awscli-app
Annotations:      <none>
Status:           Running
IP:               169.254.3.2
IPs:
  IP:           169.254.3.2
Controlled By:  ReplicaSet/awscli-app-78c6cf97f4
Containers:
  aws-cli-app:
    Container ID:
    Image:         amazon/aws-cli:latest
    Image ID:
    Port:          <none>
    Host Port:     <none>
    Command:
      sleep
      infinity
    State:          Running
      Started:      Sat, 28 Nov 2026 20:29:01 +0000
    Ready:          True
    Restart Count:  0
    Environment:
      AWS_REGION:  us-west-2
    Mounts:
      /var/run/secrets/pods.eks.amazonaws.com/serviceaccount from eks-pod-identity-token (ro)
Conditions:
  Type   Status
  Ready  True
Volumes:
  eks-pod-identity-token:
    Type:                    Projected (a volume that contains injected data from multiple sources)
    TokenExpirationSeconds:  86400
QoS Class:                   BestEffort
Node-Selectors:              <none>
Tolerations:                 <none>
Events:                      <none>
"""
    )
