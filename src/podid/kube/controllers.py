"""The controllers of a local cluster: one reconcile pass over the object store.

What kube-controller-manager and the scheduler would do, synchronously and idempotently:
- the ServiceAccount controller: a `default` ServiceAccount in every namespace;
- the Deployment controller: one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`,
  older ones scaled to zero (a rollout without surge), status (READY, UP-TO-DATE, AVAILABLE);
- the ReplicaSet controller: create or delete pods (named `<replicaset>-<5 random chars>`) to match
  `replicas`; deleted pods are replaced;
- the DaemonSet controller: one pod per node matching `nodeSelector`;
- the garbage collector: objects whose owner is gone are deleted (cascading deletes);
- the scheduler: a pod without `nodeName` goes to the node with the fewest pods.
Pod creation and deletion are delegated to the cluster (`create_pod` runs admission, `delete_pod`
stops processes first), so this module only decides.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podid.kube.model import Obj, labels_of, match_labels_selector, pod_template_hash, random_suffix
from podid.kube.objects import ObjectStore

WORKLOADS = ("Deployment", "ReplicaSet", "DaemonSet", "Pod")


@dataclass
class Controllers:
    objects: ObjectStore
    rng: random.Random
    node_names: Callable[[], Sequence[str]]
    node_labels: Callable[[str], dict[str, str]]
    create_pod: Callable[[Obj], Obj | None]
    delete_pod: Callable[[Obj], None]

    def reconcile(self) -> None:
        self.service_accounts()
        self.garbage_collect()
        for dep in self.objects.list("Deployment"):
            self.deployment(dep)
        for rs in self.objects.list("ReplicaSet"):
            self.replicaset(rs)
        for ds in self.objects.list("DaemonSet"):
            self.daemonset(ds)
        self.schedule()

    # -------------------------------------------------------------------------------------------
    def service_accounts(self) -> None:
        for ns in self.objects.list("Namespace"):
            name = ns["metadata"]["name"]
            if (ns.get("status") or {}).get("phase") == "Terminating":
                continue
            if self.objects.get("ServiceAccount", name, "default") is None:
                self.objects.create(
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": name},
                    }
                )

    def garbage_collect(self) -> None:
        alive = {str(o["metadata"]["uid"]) for o in self.objects.all_objects()}
        for kind in ("ReplicaSet", "Pod"):
            for obj in self.objects.list(kind):
                owners = obj["metadata"].get("ownerReferences") or []
                if owners and not any(str(o.get("uid")) in alive for o in owners):
                    if kind == "Pod":
                        self.delete_pod(obj)
                    else:
                        self.objects.delete(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])

    def _owned(self, kind: str, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"]["namespace"]
        return [
            o
            for o in self.objects.list(kind, namespace)
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in o["metadata"].get("ownerReferences") or []
            )
        ]

    @staticmethod
    def _owner_ref(owner: Obj) -> dict[str, Any]:
        return {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _set_status(self, obj: Obj, status: dict[str, Any]) -> None:
        if obj.get("status") != status:
            obj["status"] = status
            self.objects.update(obj)

    # -------------------------------------------------------------------------------------------
    def deployment(self, dep: Obj) -> None:
        spec = dep["spec"]
        template = copy.deepcopy(spec["template"])
        owned = self._owned("ReplicaSet", dep)
        collision = int((dep.get("status") or {}).get("collisionCount", 0))
        tmpl_hash = pod_template_hash(template, collision)
        current = next((rs for rs in owned if labels_of(rs).get("pod-template-hash") == tmpl_hash), None)
        replicas = int(spec.get("replicas", 1))
        revision = max(
            [
                int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
                for rs in owned
            ]
            + [0]
        )
        if current is None:
            labels = {**(template.get("metadata") or {}).get("labels", {}), "pod-template-hash": tmpl_hash}
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = tmpl_hash
            current = self.objects.create(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{dep['metadata']['name']}-{tmpl_hash}",
                        "namespace": dep["metadata"]["namespace"],
                        "labels": labels,
                        "annotations": {
                            "deployment.kubernetes.io/desired-replicas": str(replicas),
                            "deployment.kubernetes.io/max-replicas": str(
                                replicas + max(1, -(-replicas // 4))
                            ),
                            "deployment.kubernetes.io/revision": str(revision + 1),
                        },
                        "ownerReferences": [self._owner_ref(dep)],
                    },
                    "spec": {"replicas": replicas, "selector": selector, "template": template},
                }
            )
            revision += 1
            meta = dep["metadata"].setdefault("annotations", {})
            meta["deployment.kubernetes.io/revision"] = str(revision)
            self.objects.update(dep)
            dep = self.objects.get("Deployment", dep["metadata"]["namespace"], dep["metadata"]["name"]) or dep
        elif int(current["spec"].get("replicas", 0)) != replicas:
            current["spec"]["replicas"] = replicas
            current["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = (
                str(replicas)
            )
            self.objects.update(current, spec_changed=True)
        for rs in owned:
            if (
                rs["metadata"]["uid"] != current["metadata"]["uid"]
                and int(rs["spec"].get("replicas", 0)) != 0
            ):
                rs["spec"]["replicas"] = 0
                self.objects.update(rs, spec_changed=True)
        all_rs = self._owned("ReplicaSet", dep)
        cur_status = current.get("status") or {}
        ready = sum(int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in all_rs)
        total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in all_rs)
        updated = int(cur_status.get("replicas", 0))
        available = ready
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
        }
        if total - available > 0:
            status["unavailableReplicas"] = total - available
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        status["conditions"] = self._deploy_conditions(dep, available >= replicas, current)
        self._set_status(dep, status)

    def _deploy_conditions(self, dep: Obj, available: bool, rs: Obj) -> list[dict[str, Any]]:
        old = {c["type"]: c for c in (dep.get("status") or {}).get("conditions") or []}
        now = dep["metadata"]["creationTimestamp"]

        def cond(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
            prev = old.get(ctype)
            status = "True" if ok else "False"
            if prev and prev.get("status") == status and prev.get("reason") == reason:
                return dict(prev)
            return {
                "type": ctype,
                "status": status,
                "reason": reason,
                "message": message,
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            }

        return [
            cond(
                "Available",
                available,
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            ),
            cond(
                "Progressing",
                True,
                "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
                if available
                else f'ReplicaSet "{rs["metadata"]["name"]}" is progressing.',
            ),
        ]

    # -------------------------------------------------------------------------------------------
    def replicaset(self, rs: Obj) -> None:
        pods = [p for p in self._owned("Pod", rs) if not p["metadata"].get("deletionTimestamp")]
        pods = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        replicas = int(rs["spec"].get("replicas", 1))
        namespace = rs["metadata"]["namespace"]
        for _ in range(replicas - len(pods)):
            template = copy.deepcopy(rs["spec"]["template"])
            meta = template.get("metadata") or {}
            meta.pop("creationTimestamp", None)
            name = f"{rs['metadata']['name']}-{random_suffix(self.rng)}"
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    **meta,
                    "name": name,
                    "generateName": f"{rs['metadata']['name']}-",
                    "namespace": namespace,
                    "ownerReferences": [self._owner_ref(rs)],
                },
                "spec": template.get("spec") or {},
            }
            created = self.create_pod(pod)
            if created is None:
                break  # admission refused (e.g. missing service account): retried on the next pass
            pods.append(created)
        if len(pods) > replicas:

            def rank(p: Obj) -> tuple[int, str]:
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or []
                )
                return (1 if ready else 0, p["metadata"]["creationTimestamp"])

            for pod in sorted(pods, key=rank)[: len(pods) - replicas]:
                self.delete_pod(pod)
                pods.remove(pod)
        ready = sum(1 for p in pods if _pod_ready(p))
        status: dict[str, Any] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v != 0 or k in ("replicas", "observedGeneration")}
        self._set_status(rs, status)

    # -------------------------------------------------------------------------------------------
    def daemonset(self, ds: Obj) -> None:
        template = ds["spec"]["template"]
        selector = (template.get("spec") or {}).get("nodeSelector") or {}
        nodes = [
            n for n in self.node_names() if all(self.node_labels(n).get(k) == v for k, v in selector.items())
        ]
        pods = [p for p in self._owned("Pod", ds) if not p["metadata"].get("deletionTimestamp")]
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            by_node.setdefault(str(pod["spec"].get("nodeName", "")), []).append(pod)
        for node, node_pods in by_node.items():
            extra = node_pods if node not in nodes else node_pods[1:]
            for pod in extra:
                self.delete_pod(pod)
                pods.remove(pod)
        for node in nodes:
            if node in by_node and by_node[node][0] in pods:
                continue
            meta = copy.deepcopy(template.get("metadata") or {})
            meta.pop("creationTimestamp", None)
            spec = copy.deepcopy(template.get("spec") or {})
            spec["nodeName"] = node
            created = self.create_pod(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        **meta,
                        "name": f"{ds['metadata']['name']}-{random_suffix(self.rng)}",
                        "generateName": f"{ds['metadata']['name']}-",
                        "namespace": ds["metadata"]["namespace"],
                        "ownerReferences": [self._owner_ref(ds)],
                    },
                    "spec": spec,
                }
            )
            if created is not None:
                pods.append(created)
        ready = sum(1 for p in pods if _pod_ready(p))
        status = {
            "currentNumberScheduled": len(pods),
            "desiredNumberScheduled": len(nodes),
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": len(pods),
        }
        if len(nodes) - ready > 0:
            status["numberUnavailable"] = len(nodes) - ready
        status = {
            k: v
            for k, v in status.items()
            if v != 0
            or k
            in (
                "currentNumberScheduled",
                "desiredNumberScheduled",
                "numberMisscheduled",
                "numberReady",
                "observedGeneration",
            )
        }
        self._set_status(ds, status)

    # -------------------------------------------------------------------------------------------
    def schedule(self) -> None:
        nodes = list(self.node_names())
        pods = self.objects.list("Pod")
        load = dict.fromkeys(nodes, 0)
        for pod in pods:
            node = pod["spec"].get("nodeName")
            if node in load:
                load[node] += 1
        for pod in pods:
            if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            selector = pod["spec"].get("nodeSelector") or {}
            fits = [n for n in nodes if all(self.node_labels(n).get(k) == v for k, v in selector.items())]
            if not fits:
                status = {
                    "phase": "Pending",
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": f"0/{len(nodes)} nodes are available: "
                            + (
                                "no nodes available to schedule pods."
                                if not nodes
                                else f"{len(nodes)} node(s) didn't match Pod's node affinity/selector."
                            ),
                            "lastProbeTime": None,
                            "lastTransitionTime": pod["metadata"]["creationTimestamp"],
                        }
                    ],
                    "qosClass": "BestEffort",
                }
                if pod.get("status") != status:
                    pod["status"] = status
                    self.objects.update(pod)
                continue
            target = min(fits, key=lambda n: (load[n], n))
            load[target] += 1
            pod["spec"]["nodeName"] = target
            self.objects.update(pod)


def _pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def selects(owner: Obj, pod: Obj) -> bool:
    return match_labels_selector(owner["spec"].get("selector"), labels_of(pod))
