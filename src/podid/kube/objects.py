"""The object store of one local cluster: Kubernetes objects persisted in the podid Store.

Table `kube`, key `<account>/<region>/<cluster>/<kind>/<namespace>/<name>` (namespace empty for
cluster-scoped kinds). The store stamps what the API server stamps: `metadata.uid` (a UUID4),
`creationTimestamp`, `resourceVersion` (a per-cluster counter, as a string), `generation` (bumped
when the spec changes), and fills `apiVersion`/`kind`. It knows nothing about controllers: the
runtime subscribes with `on_change` and reconciles.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator

from podid.clock import Clock
from podid.kube.model import BY_KIND, Obj, Requirement, matches, now_rfc3339
from podid.store import Store

TABLE = "kube"


class ObjectStore:
    """CRUD over one cluster's objects; every write notifies the `on_change` callbacks."""

    def __init__(self, store: Store, clock: Clock, prefix: str) -> None:
        """`prefix` is `<account>/<region>/<cluster>`."""
        self._store = store
        self._clock = clock
        self.prefix = prefix
        self._listeners: list[Callable[[str, Obj], None]] = []

    def on_change(self, callback: Callable[[str, Obj], None]) -> None:
        """`callback(event, obj)` with event `added`, `modified` or `deleted`."""
        self._listeners.append(callback)

    def _key(self, kind: str, namespace: str, name: str) -> str:
        return f"{self.prefix}/{kind}/{namespace}/{name}"

    def _next_rv(self) -> str:
        key = f"{self.prefix}/_resourceVersion"
        value = int(self._store.get(TABLE, key) or 1000) + 1
        self._store.put(TABLE, key, value)
        return str(value)

    # reads
    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        found = self._store.get(TABLE, self._key(kind, namespace if BY_KIND[kind].namespaced else "", name))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self, kind: str, namespace: str | None = None, selector: tuple[Requirement, ...] = ()
    ) -> list[Obj]:
        """Objects of `kind` (in `namespace`, or all namespaces when None), by namespace and name."""
        prefix = f"{self.prefix}/{kind}/"
        if namespace is not None and BY_KIND[kind].namespaced:
            prefix += f"{namespace}/"
        out = []
        for _, obj in self._store.scan(TABLE, prefix):
            if matches(selector, (obj.get("metadata") or {}).get("labels")):
                out.append(copy.deepcopy(obj))
        return out

    def all_objects(self) -> Iterator[Obj]:
        for key, obj in self._store.scan(TABLE, self.prefix + "/"):
            if not key.endswith("/_resourceVersion"):
                yield copy.deepcopy(obj)

    # writes
    def create(self, obj: Obj) -> Obj:
        kind = BY_KIND[str(obj["kind"])]
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = kind.api_version
        meta = obj.setdefault("metadata", {})
        if not kind.namespaced:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(self._clock.now())
        meta["resourceVersion"] = self._next_rv()
        if kind.kind in ("Deployment", "ReplicaSet", "DaemonSet"):
            meta["generation"] = 1
        self._put(obj)
        self._notify("added", obj)
        return copy.deepcopy(obj)

    def update(self, obj: Obj, *, spec_changed: bool = False) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta["resourceVersion"] = self._next_rv()
        if spec_changed and "generation" in meta:
            meta["generation"] = int(meta["generation"]) + 1
        self._put(obj)
        self._notify("modified", obj)
        return copy.deepcopy(obj)

    def delete(self, kind: str, namespace: str, name: str) -> Obj | None:
        obj = self.get(kind, namespace, name)
        if obj is None:
            return None
        self._store.delete(TABLE, self._key(kind, namespace if BY_KIND[kind].namespaced else "", name))
        self._notify("deleted", obj)
        return obj

    def drop_all(self) -> None:
        """Forget every object of this cluster (the cluster was deleted)."""
        with self._store.transaction():
            for key, _ in list(self._store.scan(TABLE, self.prefix + "/")):
                self._store.delete(TABLE, key)

    def _put(self, obj: Obj) -> None:
        meta = obj["metadata"]
        namespace = str(meta.get("namespace", "")) if BY_KIND[str(obj["kind"])].namespaced else ""
        self._store.put(TABLE, self._key(str(obj["kind"]), namespace, str(meta["name"])), obj)

    def _notify(self, event: str, obj: Obj) -> None:
        for callback in list(self._listeners):
            callback(event, obj)
