"""Where the standalone webhook learns which service accounts have Pod Identity associations.

Two sources, as `podid webhook` offers them:

- `IdentityFile`: the real webhook's `--watch-container-credentials-config` file,
  `{"identities":[{"namespace":"ns","serviceAccount":"sa"}, ...]}`. The real webhook reloads it on
  fsnotify events; here the file's (mtime, size, inode) is checked on every lookup (one `stat`,
  no extra dependency), so a change is seen by the next admission. An empty file clears the set;
  a file that is not valid JSON is reported and the previous set kept (as the real `Load` does);
  a missing file means no identities.
- `EksApiIdentities`: ListPodIdentityAssociations of a running podid (or any EKS endpoint given
  explicitly), through botocore. The whole list for the cluster is cached for `cache_seconds`
  (default 2 s): an association created less than that before a pod may be missed, which is still
  far shorter than EKS's own propagation. When a refresh fails the last good list is used; with
  none, the lookup fails (`IdentityLookupError`) and the pod is admitted unchanged with a warning.

The local runtime does not use either: it passes a source backed by its in-process EKS domain.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from podid.clock import Clock, SystemClock
from podid.webhook.config import IdentityLookupError

log = logging.getLogger(__name__)


def parse_identities(content: bytes) -> set[tuple[str, str]]:
    """The pairs of an identities file; raises ValueError when it is not the documented JSON."""
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError('expected a JSON object {"identities": [...]}')
    items = data.get("identities")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValueError('"identities" must be an array')
    pairs: set[tuple[str, str]] = set()
    for item in items:
        if not isinstance(item, dict):
            raise ValueError('each identity must be an object {"namespace": ..., "serviceAccount": ...}')
        namespace = item.get("namespace", "")
        service_account = item.get("serviceAccount", "")
        if not isinstance(namespace, str) or not isinstance(service_account, str):
            raise ValueError("namespace and serviceAccount must be strings")
        pairs.add((namespace, service_account))
    return pairs


class IdentityFile:
    """The real webhook's identities file, re-read whenever it changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._pairs: set[tuple[str, str]] = set()
        self._signature: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def has_association(self, namespace: str, service_account: str) -> bool:
        with self._lock:
            self._reload_if_changed()
            return (namespace, service_account) in self._pairs

    def _reload_if_changed(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._signature is not None:
                log.warning(
                    "identities file %s disappeared; no service account has an association", self.path
                )
            self._pairs, self._signature = set(), None
            return
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature:
            return
        self._signature = signature
        content = self.path.read_bytes()
        if not content.strip():
            self._pairs = set()
            return
        try:
            self._pairs = parse_identities(content)
        except ValueError as exc:
            log.error("identities file %s ignored, keeping the previous set: %s", self.path, exc)


class EksApiIdentities:
    """Associations read from an EKS API (podid's) with ListPodIdentityAssociations, briefly cached."""

    def __init__(
        self,
        cluster_name: str,
        client: Any,
        cache_seconds: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self._client = client
        self._cache_seconds = cache_seconds
        self._clock = clock or SystemClock()
        self._pairs: set[tuple[str, str]] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_endpoint(
        cls,
        cluster_name: str,
        endpoint_url: str,
        region: str,
        cache_seconds: float = 2.0,
        profile: str | None = None,
    ) -> EksApiIdentities:
        """A botocore `eks` client on exactly `endpoint_url`, credentials from the usual chain."""
        import botocore.session

        session = botocore.session.Session(profile=profile)
        client = session.create_client("eks", region_name=region, endpoint_url=endpoint_url)
        return cls(cluster_name, client, cache_seconds)

    def has_association(self, namespace: str, service_account: str) -> bool:
        with self._lock:
            now = self._clock.monotonic()
            if self._pairs is None or now - self._fetched_at >= self._cache_seconds:
                try:
                    self._pairs = self._list()
                    self._fetched_at = now
                except Exception as exc:  # botocore raises many types; every one means "unknown"
                    if self._pairs is None:
                        raise IdentityLookupError(
                            f"ListPodIdentityAssociations for cluster {self.cluster_name!r} failed: {exc}"
                        ) from exc
                    log.warning("ListPodIdentityAssociations failed, using the previous list: %s", exc)
            return (namespace, service_account) in self._pairs

    def _list(self) -> set[tuple[str, str]]:
        pairs: set[tuple[str, str]] = set()
        kwargs: dict[str, Any] = {"clusterName": self.cluster_name}
        while True:
            page = self._client.list_pod_identity_associations(**kwargs)
            for item in page.get("associations", []):
                pairs.add((item["namespace"], item["serviceAccount"]))
            token = page.get("nextToken")
            if not token:
                return pairs
            kwargs["nextToken"] = token
