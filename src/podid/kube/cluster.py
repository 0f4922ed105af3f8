"""One local cluster: its objects, nodes, controllers, pod admission and pod processes.

`ClusterRuntime` is what an EKS cluster created through podid gets: nodes for its node groups
(`desiredSize` of each), the `eks-pod-identity-agent` DaemonSet in `kube-system` while the cluster
has that add-on, the controllers (reconciled on every change), admission of every new pod (the
ServiceAccount admission plugin, then the Pod Identity webhook's `review` through
`podid.webhook.admit.admit_pod`, the very code the HTTPS webhook runs), and one `PodRunner` per
pod scheduled on one of its nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import random
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podid.clock import Clock
from podid.kube import manifests
from podid.kube.addon import AGENT_ADDON, AGENT_LABEL, agent_daemonset
from podid.kube.admission import admit
from podid.kube.controllers import Controllers
from podid.kube.manifests import KubeError, Outcome
from podid.kube.model import Obj, now_rfc3339, stable_id
from podid.kube.nodes import Node, instance_id, node_name
from podid.kube.objects import ObjectStore
from podid.kube.pods import PodRunner, RunnerOptions
from podid.kube.ports import ClusterInfo, ClusterSource, NetworkFactory, NodeCredentialSource
from podid.store import Store

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


@dataclass
class RuntimeEnv:
    """What every cluster of one runtime shares."""

    store: Store
    clock: Clock
    source: ClusterSource
    credentials: NodeCredentialSource
    run_dir: Path  # pod and node directories
    endpoint_url: str  # the endpoint as reached without a network namespace
    network_factory: NetworkFactory | None  # None: loopback fallback
    node_endpoint: Callable[[str], Awaitable[str]]  # host address -> endpoint URL reachable from a node
    loopback_address: Callable[[str], str]  # node id -> 127.x.y.z (fallback mode)
    rng: random.Random
    options: RunnerOptions


class ClusterRuntime:
    """Everything that runs for one EKS cluster."""

    def __init__(self, info: ClusterInfo, env: RuntimeEnv) -> None:
        self.info = info
        self.env = env
        self.objects = ObjectStore(env.store, env.clock, info.key)
        self.nodes: dict[str, Node] = {}
        self.runners: dict[str, PodRunner] = {}
        self._retired: set[PodRunner] = set()  # removed from `runners`, still stopping
        self._dirty = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._deleting: set[str] = set()
        self.has_agent = False
        self.controllers = Controllers(
            objects=self.objects,
            rng=env.rng,
            node_names=lambda: sorted(self.nodes),
            node_labels=self._node_labels,
            create_pod=self._controller_create_pod,
            delete_pod=lambda pod: self.schedule_delete_pod(pod),
        )
        self.objects.on_change(lambda event, obj: self.kick())

    @property
    def dir(self) -> Path:
        return self.env.run_dir / stable_id(self.info.key, length=10)

    # lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        for name in SYSTEM_NAMESPACES:
            if self.objects.get("Namespace", "", name) is None:
                self.objects.create(
                    manifests.apply_defaults(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                    )
                )
        # pods of a previous run come back as new processes: forget their old status
        for pod in self.objects.list("Pod"):
            if pod["metadata"].get("deletionTimestamp"):
                self.objects.delete("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
            elif (pod.get("status") or {}).get("phase") not in (None, "Pending", "Succeeded", "Failed"):
                pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
                self.objects.update(pod)
        await self.sync_nodes()
        self._loop_task = asyncio.get_running_loop().create_task(
            self._loop(), name=f"cluster {self.info.key}"
        )
        self.kick()

    async def stop(self, *, forget: bool = False) -> None:
        """Stop every process (and with `forget`, drop the cluster's objects: the cluster was deleted)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        runners = [*self.runners.values(), *self._retired]
        self.runners.clear()
        await asyncio.gather(*(r.stop() for r in runners), return_exceptions=True)
        # pod deletions in flight: not cancelled (a half-stopped pod would leave processes behind);
        # each is bounded by its pods' grace period
        await asyncio.gather(*list(self._pending), return_exceptions=True)
        await asyncio.gather(*(n.stop() for n in self.nodes.values()), return_exceptions=True)
        self.nodes.clear()
        if forget:
            self.objects.drop_all()
            shutil.rmtree(self.dir, ignore_errors=True)  # pod volumes, logs, node credentials

    def kick(self) -> None:
        self._dirty.set()

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                self.reconcile()
            except Exception:
                log.exception("cluster %s: reconcile failed", self.info.key)
            await asyncio.sleep(0.02)  # coalesce bursts of changes

    def reconcile(self) -> None:
        self._sync_agent_daemonset()
        self.controllers.reconcile()
        self._sync_runners()

    # nodes ----------------------------------------------------------------------------------------
    async def sync_nodes(self) -> None:
        """Nodes follow the node groups' desired sizes."""
        wanted: dict[str, tuple[str, str, dict[str, str], int]] = {}
        for ng in self.env.source.node_groups(self.info):
            for i in range(max(0, ng.desired_size)):
                wanted[f"{ng.name}-{i}"] = (ng.name, ng.node_role_arn, dict(ng.labels), i)
        self.has_agent = AGENT_ADDON in self.env.source.addons(self.info)
        existing = {
            str((n.get("metadata") or {}).get("labels", {}).get("podid.dev/node-id", "")): n
            for n in self.objects.list("Node")
        }
        by_id = {self._node_id(n): n for n in self.nodes.values()}
        for node_id, node in list(by_id.items()):
            if node_id not in wanted:
                await self._remove_node(node)
        for node_id, (group, role, labels, _) in wanted.items():
            if node_id in by_id:
                by_id[node_id].has_agent = self.has_agent
                continue
            try:
                node = await self._add_node(node_id, group, role, labels, existing.get(node_id))
            except Exception as exc:
                log.error("cluster %s: cannot create node %s: %s", self.info.key, node_id, exc)
                continue
            node.has_agent = self.has_agent
        for node in self.nodes.values():
            node.has_agent = self.has_agent
        self.kick()

    def _node_id(self, node: Node) -> str:
        obj = self.objects.get("Node", "", node.name) or {}
        return str(((obj.get("metadata") or {}).get("labels") or {}).get("podid.dev/node-id", ""))

    def _node_labels(self, name: str) -> dict[str, str]:
        obj = self.objects.get("Node", "", name) or {}
        return dict((obj.get("metadata") or {}).get("labels") or {})

    async def _add_node(
        self, node_id: str, nodegroup: str, role: str, labels: dict[str, str], existing: Obj | None
    ) -> Node:
        unique = f"{self.info.key}/{node_id}"
        network = None
        if self.env.network_factory is not None:
            network = self.env.network_factory(self.info.key, node_id)
            await asyncio.get_running_loop().run_in_executor(None, network.create)
            try:
                address = network.node_address
                endpoint = await self.env.node_endpoint(network.host_address)
            except BaseException:
                await asyncio.get_running_loop().run_in_executor(None, network.destroy)
                raise
        else:
            address = self.env.loopback_address(unique)
            endpoint = self.env.endpoint_url
        name = str(existing["metadata"]["name"]) if existing else node_name(address, self.info.region)
        instance = (existing or {}).get("spec", {}).get("providerID", "").rsplit("/", 1)[-1] or instance_id(
            unique
        )
        node = Node(
            privileged=self.env.options.privileged,
            name=name,
            instance=instance,
            nodegroup=nodegroup,
            role_arn=role,
            account=self.info.account,
            region=self.info.region,
            address=address,
            directory=self.dir / "nodes" / node_id,
            clock=self.env.clock,
            credentials=self.env.credentials,
            network=network,
            endpoint_url=endpoint,
        )
        node.start()
        self.nodes[name] = node
        obj = existing or {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        obj["metadata"]["labels"] = {
            **labels,
            "eks.amazonaws.com/nodegroup": nodegroup,
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/region": self.info.region,
            "podid.dev/node-id": node_id,
        }
        obj["spec"] = {"providerID": f"aws:///{self.info.region}a/{instance}"}
        obj["status"] = {
            "addresses": [
                {"type": "InternalIP", "address": node.address},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now_rfc3339(self.env.clock.now()),
                    "lastTransitionTime": now_rfc3339(self.env.clock.now()),
                }
            ],
            "nodeInfo": {
                "kubeletVersion": f"v{self.info.version}.0-eks-podid",
                "osImage": "podid local node",
                "kernelVersion": "",
                "containerRuntimeVersion": "podid://processes",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
        if existing:
            self.objects.update(obj)
        else:
            self.objects.create(obj)
        return node

    async def _remove_node(self, node: Node) -> None:
        for pod in self.objects.list("Pod"):
            if pod["spec"].get("nodeName") == node.name:
                await self.delete_pod(pod)
        await node.stop()
        self.nodes.pop(node.name, None)
        self.objects.delete("Node", "", node.name)

    # the add-on -----------------------------------------------------------------------------------
    def _sync_agent_daemonset(self) -> None:
        current = self.objects.get("DaemonSet", "kube-system", AGENT_ADDON)
        if self.has_agent and current is None:
            ds = manifests.apply_defaults(agent_daemonset(self.info))
            ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "1"}
            self.objects.create(ds)
        elif not self.has_agent and current is not None:
            self.objects.delete("DaemonSet", "kube-system", AGENT_ADDON)

    # pods -----------------------------------------------------------------------------------------
    def admit(self, pod: Obj) -> Obj:
        """Admission of a new pod (see `podid.kube.admission`)."""
        return admit(pod, self.info, self.objects, self.env.source, self.env.rng)

    def create_pod(self, pod: Obj) -> Obj:
        return self.objects.create(self.admit(pod))

    def _controller_create_pod(self, pod: Obj) -> Obj | None:
        try:
            return self.create_pod(pod)
        except KubeError as exc:
            log.warning("cluster %s: %s", self.info.key, exc.message)
            return None

    def schedule_delete_pod(self, pod: Obj) -> None:
        uid = str(pod["metadata"]["uid"])
        if uid in self._deleting:
            return
        task = asyncio.get_running_loop().create_task(self.delete_pod(pod))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def delete_pod(self, pod: Obj) -> None:
        """Graceful deletion: Terminating, processes stopped, credentials evicted, object removed."""
        uid = str(pod["metadata"]["uid"])
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self._deleting.add(uid)
        try:
            current = self.objects.get("Pod", namespace, name)
            if current is not None and current["metadata"]["uid"] == uid:
                current["metadata"]["deletionTimestamp"] = now_rfc3339(self.env.clock.now())
                current["metadata"]["deletionGracePeriodSeconds"] = int(
                    current["spec"].get("terminationGracePeriodSeconds", 30)
                )
                self.objects.update(current)
            runner = self.runners.pop(uid, None)
            if runner is not None:
                await self._stop_runner(runner)
            current = self.objects.get("Pod", namespace, name)
            if current is not None and current["metadata"]["uid"] == uid:
                self.objects.delete("Pod", namespace, name)
        finally:
            self._deleting.discard(uid)

    def _sync_runners(self) -> None:
        pods = {str(p["metadata"]["uid"]): p for p in self.objects.list("Pod")}
        for uid, runner in list(self.runners.items()):
            if uid not in pods:
                self.runners.pop(uid)
                task = asyncio.get_running_loop().create_task(self._stop_runner(runner))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        for uid, pod in pods.items():
            if uid in self.runners or uid in self._deleting or pod["metadata"].get("deletionTimestamp"):
                continue
            node = self.nodes.get(str(pod["spec"].get("nodeName", "")))
            if node is None:
                if pod["spec"].get("nodeName") and pod["spec"]["nodeName"] not in self.nodes:
                    self.schedule_delete_pod(pod)  # pod GC: its node is gone
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue  # finished pods are not run again (nor after a restart)
            is_agent = (
                pod["metadata"].get("namespace") == "kube-system"
                and (pod["metadata"].get("labels") or {}).get(AGENT_LABEL) == AGENT_ADDON
            )
            runner = PodRunner(
                pod,
                node,
                self.dir / "pods" / uid,
                self.env.clock,
                self._minter(pod),
                self._lookup,
                self._on_status,
                RunnerOptions(
                    self.env.options.backoff_initial_s,
                    self.env.options.backoff_max_s,
                    is_agent,
                    self.env.options.privileged,
                ),
            )
            self.runners[uid] = runner
            runner.start()

    async def _stop_runner(self, runner: PodRunner) -> None:
        # until its stop has finished, `stop()` of the cluster still waits for it
        self._retired.add(runner)
        await runner.stop()
        self._retired.discard(runner)
        runner.remove_files()

    def _lookup(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get(kind, namespace, name)

    def _minter(self, pod: Obj) -> Callable[[str, str, list[str], int], str]:
        def mint(namespace: str, service_account: str, audience: list[str], duration_s: int) -> str:
            sa = self.objects.get("ServiceAccount", namespace, service_account) or {}
            return self.env.source.issue_token(
                self.info,
                namespace,
                service_account,
                audience=audience,
                duration_s=duration_s,
                pod_name=str(pod["metadata"]["name"]),
                pod_uid=str(pod["metadata"]["uid"]),
                sa_uid=(sa.get("metadata") or {}).get("uid"),
                now=self.env.clock.now(),
            )

        return mint

    def _on_status(self, pod: Obj, status: dict[str, Any]) -> None:
        meta = pod["metadata"]
        current = self.objects.get("Pod", meta["namespace"], meta["name"])
        if current is None or current["metadata"]["uid"] != meta["uid"]:
            return
        if current["metadata"].get("deletionTimestamp"):
            return
        old = current.get("status") or {}
        # keep condition transition times stable when the condition does not change
        before = {c.get("type"): c for c in old.get("conditions") or []}
        for cond in status.get("conditions") or []:
            prev = before.get(cond.get("type"))
            if prev is not None and prev.get("status") == cond.get("status"):
                cond["lastTransitionTime"] = prev.get("lastTransitionTime")
        if old == status:
            return
        current["status"] = status
        self.objects.update(current)
        labels = meta.get("labels") or {}
        if labels.get(AGENT_LABEL) == AGENT_ADDON and meta.get("namespace") == "kube-system":
            node = self.nodes.get(str(current["spec"].get("nodeName", "")))
            if node is not None:
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in status["conditions"]
                )
                node.set_agent_ready(ready)

    # kubectl operations ---------------------------------------------------------------------------
    def apply(self, doc: Obj, source: str, namespace: str) -> Outcome:
        if doc.get("kind") == "Pod":
            manifests.check_document(doc, source)
            meta = doc.get("metadata") or {}
            ns = str(meta.get("namespace") or namespace)
            if self.objects.get("Pod", ns, str(meta.get("name"))) is None:
                if self.objects.get("Namespace", "", ns) is None:
                    raise KubeError(
                        f'Error from server (NotFound): error when creating "{source}": '
                        f'namespaces "{ns}" not found',
                        404,
                        "NotFound",
                    )
                pod = copy.deepcopy(doc)
                pod["metadata"]["namespace"] = ns
                last = copy.deepcopy(pod)
                pod["metadata"].setdefault("annotations", {})[manifests.LAST_APPLIED] = (
                    json.dumps(last, sort_keys=True, separators=(",", ":")) + "\n"
                )
                created = self.create_pod(pod)
                return Outcome(f"pod/{created['metadata']['name']}", "created")
        return manifests.apply_document(self.objects, doc, source, namespace)

    async def delete(self, kind: str, namespace: str, name: str) -> Obj | None:
        obj = self.objects.get(kind, namespace, name)
        if obj is None:
            return None
        if kind == "Pod":
            await self.delete_pod(obj)
            return obj
        if kind == "Namespace":
            if name in SYSTEM_NAMESPACES:
                raise KubeError(
                    f'Error from server (Forbidden): namespaces "{name}" is forbidden: this namespace '
                    "may not be deleted",
                    403,
                    "Forbidden",
                )
            obj["status"] = {"phase": "Terminating"}
            obj["metadata"]["deletionTimestamp"] = now_rfc3339(self.env.clock.now())
            self.objects.update(obj)
            for other in list(self.objects.all_objects()):
                if other.get("kind") == "Pod" and other["metadata"].get("namespace") == name:
                    await self.delete_pod(other)
            for other in list(self.objects.all_objects()):
                if other["metadata"].get("namespace") == name and other.get("kind") != "Namespace":
                    self.objects.delete(str(other["kind"]), name, str(other["metadata"]["name"]))
            self.objects.delete("Namespace", "", name)
            return obj
        self.objects.delete(kind, namespace, name)
        # cascade now so that `kubectl delete` returns with the pods gone, as kubectl's wait does
        self.reconcile()
        await asyncio.gather(*list(self._pending), return_exceptions=True)
        return obj
