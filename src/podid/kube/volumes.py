"""Pod volumes written to disk, the kubelet's way: projected tokens, ConfigMaps, Secrets, emptyDir.

Each volume is a directory `<pod dir>/volumes/<name>/`. Files are replaced atomically (write then
rename), so a process reading a token during rotation sees the old or the new one, never half.
Service-account tokens are issued by the cluster's own issuer (the EKS domain's signing key) with
the pod's name and uid in the `kubernetes.io` claim, and are due for refresh at 80 % of their
lifetime (the kubelet's rule: older than 80 % of the TTL or 24 h).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from podid.kube.model import Obj

DEFAULT_TOKEN_VOLUME_PREFIX = "kube-api-access-"
KUBE_API_AUDIENCE = "https://kubernetes.default.svc"

# (namespace, service account, audience, duration_s) -> token
TokenMinter = Callable[[str, str, list[str], int], str]
# (kind, namespace, name) -> the object or None
Lookup = Callable[[str, str, str], Obj | None]


class VolumeError(Exception):
    """A volume that cannot be materialized (missing ConfigMap/Secret, unsupported type)."""


@dataclass(frozen=True)
class WrittenVolumes:
    refresh_at: datetime | None  # when the next token rotation is due (None: no tokens)


def write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _items(
    data: Mapping[str, bytes], items: list[dict[str, Any]] | None, mode: int
) -> list[tuple[str, bytes, int]]:
    if not items:
        return [(key, value, mode) for key, value in data.items()]
    out = []
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            raise VolumeError(f'configmap/secret key "{key}" not found')
        out.append((str(item.get("path", key)), data[key], int(item.get("mode", mode))))
    return out


def _configmap_data(obj: Obj) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(str(v)) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _secret_data(obj: Obj) -> dict[str, bytes]:
    data = {k: base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return data


def write_volumes(
    pod: Obj,
    pod_dir: Path,
    now: datetime,
    mint: TokenMinter,
    lookup: Lookup,
    *,
    only_tokens: bool = False,
) -> WrittenVolumes:
    """Write every volume of `pod` under `pod_dir/volumes`; with `only_tokens`, refresh tokens only."""
    namespace = str(pod["metadata"].get("namespace", "default"))
    service_account = str(pod["spec"].get("serviceAccountName", "default"))
    refresh: datetime | None = None
    for volume in pod["spec"].get("volumes") or []:
        name = str(volume.get("name"))
        base = pod_dir / "volumes" / name
        if "projected" in volume:
            mode = int(volume["projected"].get("defaultMode", 420))
            for source in volume["projected"].get("sources") or []:
                sat = source.get("serviceAccountToken")
                if sat is not None:
                    ttl = int(sat.get("expirationSeconds", 3600))
                    audience = [str(sat["audience"])] if sat.get("audience") else [KUBE_API_AUDIENCE]
                    token = mint(namespace, service_account, audience, ttl)
                    write_file(base / str(sat.get("path", "token")), token.encode(), mode)
                    due = now + timedelta(seconds=min(ttl * 0.8, 24 * 3600))
                    refresh = due if refresh is None or due < refresh else refresh
                    continue
                if only_tokens:
                    continue
                if "configMap" in source or "secret" in source:
                    is_cm = "configMap" in source
                    spec = source["configMap"] if is_cm else source["secret"]
                    obj = lookup("ConfigMap" if is_cm else "Secret", namespace, str(spec.get("name")))
                    if obj is None:
                        if spec.get("optional"):
                            continue
                        raise VolumeError(
                            f'{"configmap" if is_cm else "secret"} "{spec.get("name")}" not found'
                        )
                    data = _configmap_data(obj) if is_cm else _secret_data(obj)
                    for path, value, item_mode in _items(data, spec.get("items"), mode):
                        write_file(base / path, value, item_mode)
                elif "downwardAPI" in source:
                    _write_downward(pod, base, source["downwardAPI"].get("items") or [], mode)
            base.mkdir(parents=True, exist_ok=True)
        elif only_tokens:
            continue
        elif "configMap" in volume or "secret" in volume:
            is_cm = "configMap" in volume
            spec = volume["configMap"] if is_cm else volume["secret"]
            ref_name = str(spec.get("name") if is_cm else spec.get("secretName"))
            obj = lookup("ConfigMap" if is_cm else "Secret", namespace, ref_name)
            mode = int(spec.get("defaultMode", 420))
            base.mkdir(parents=True, exist_ok=True)
            if obj is None:
                if spec.get("optional"):
                    continue
                raise VolumeError(f'{"configmap" if is_cm else "secret"} "{ref_name}" not found')
            data = _configmap_data(obj) if is_cm else _secret_data(obj)
            for path, value, item_mode in _items(data, spec.get("items"), mode):
                write_file(base / path, value, item_mode)
        elif "emptyDir" in volume:
            base.mkdir(parents=True, exist_ok=True)
            os.chmod(base, 0o777)  # any container user may write, as with a real emptyDir
        elif "downwardAPI" in volume:
            _write_downward(pod, base, volume["downwardAPI"].get("items") or [], 420)
        else:
            kinds = sorted(set(volume) - {"name"})
            raise VolumeError(
                f"volume {name!r}: type {', '.join(kinds)} is not supported by podid's local runtime"
            )
    return WrittenVolumes(refresh)


def _write_downward(pod: Obj, base: Path, items: list[dict[str, Any]], mode: int) -> None:
    meta = pod["metadata"]
    for item in items:
        field = str((item.get("fieldRef") or {}).get("fieldPath", ""))
        if field == "metadata.namespace":
            value = str(meta.get("namespace", ""))
        elif field == "metadata.name":
            value = str(meta.get("name", ""))
        elif field == "metadata.uid":
            value = str(meta.get("uid", ""))
        elif field in ("metadata.labels", "metadata.annotations"):
            found = meta.get(field.split(".")[1]) or {}
            value = "\n".join(f'{k}="{v}"' for k, v in sorted(found.items()))
        else:
            continue
        write_file(base / str(item.get("path")), value.encode(), int(item.get("mode", mode)))
    base.mkdir(parents=True, exist_ok=True)
