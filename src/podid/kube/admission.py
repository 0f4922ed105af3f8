"""Admission of a new pod, in the API server's order: ServiceAccount plugin, webhook, defaults.

The ServiceAccount admission plugin refuses a pod whose ServiceAccount does not exist and adds the
default token volume (`kube-api-access-xxxxx`: a 3607 s token for the API server's audience and the
namespace file; podid has no API server CA, hence no `ca.crt`) mounted at
`/var/run/secrets/kubernetes.io/serviceaccount`, unless `automountServiceAccountToken: false` on the
pod or its ServiceAccount. Then the Pod Identity webhook's `review` runs through
`podid.webhook.admit.admit_pod` (the very code the HTTPS webhook runs), with associations read from
the control plane at admission time, and last the API server's defaults.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from podid.kube import manifests
from podid.kube.manifests import KubeError
from podid.kube.model import Obj, random_suffix
from podid.kube.objects import ObjectStore
from podid.kube.ports import ClusterInfo, ClusterSource


class _Identities:
    """The webhook's view of the cluster: associations (control plane) and ServiceAccounts (objects)."""

    def __init__(self, cluster: ClusterInfo, objects: ObjectStore, source: ClusterSource) -> None:
        self._cluster = cluster
        self._objects = objects
        self._source = source

    def has_association(self, namespace: str, service_account: str) -> bool:
        return self._source.has_association(self._cluster, namespace, service_account)

    def service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get("ServiceAccount", namespace, name)


def admit(
    pod: Obj, cluster: ClusterInfo, objects: ObjectStore, source: ClusterSource, rng: random.Random
) -> Obj:
    """The pod as admitted; raises KubeError (kubectl's text) when admission refuses it."""
    from podid.webhook.admit import AdmissionDenied, admit_pod
    from podid.webhook.config import WebhookConfig

    pod = copy.deepcopy(pod)
    namespace = str(pod["metadata"].get("namespace", "default"))
    spec = manifests.default_pod_spec(pod.setdefault("spec", {}))
    sa_name = str(spec["serviceAccountName"])
    sa = objects.get("ServiceAccount", namespace, sa_name)
    name = pod["metadata"].get("name", "")
    if sa is None:
        raise KubeError(
            f'Error from server (Forbidden): pods "{name}" is forbidden: error looking up service '
            f'account {namespace}/{sa_name}: serviceaccount "{sa_name}" not found',
            403,
            "Forbidden",
        )
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken", True)
    if automount:
        vol = f"kube-api-access-{random_suffix(rng)}"
        spec.setdefault("volumes", []).append(
            {
                "name": vol,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                        "path": "namespace",
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        )
        for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
            mounts = container.setdefault("volumeMounts", [])
            if not any(m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount" for m in mounts):
                mounts.append(
                    {
                        "name": vol,
                        "readOnly": True,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    }
                )
    identities = _Identities(cluster, objects, source)
    try:
        admitted, _ = admit_pod(
            pod, namespace, WebhookConfig(region=cluster.region), identities, identities, rng
        )
    except AdmissionDenied as exc:
        raise KubeError(
            f"Error from server (InternalError): Internal error occurred: admission webhook "
            f'"iam-for-pods.amazonaws.com" denied the request: {exc}',
            500,
            "InternalError",
        ) from exc
    return manifests.apply_defaults(admitted)
