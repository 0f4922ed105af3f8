"""A container's process recipe: command resolution (images are host programs) and its environment.

Images are not pulled: an image's role is played by the host's programs. `amazon/aws-cli` (and
`public.ecr.aws/aws-cli/aws-cli`) means the aws CLI installed with podid (entrypoint `aws`); other
images need an explicit `command`, which runs from the container's PATH.

A container's environment is exactly: the spec's `env`/`envFrom` (with `valueFrom` and `$(VAR)`
expansion as the kubelet does), what the webhook injected (it is in the spec by then), and what the
runtime adds underneath: `PATH` (the venv's bin directory first, so `aws` is podid's aws CLI, then the
usual image PATH) and `AWS_ENDPOINT_URL` (the podid endpoint as reached from the pod's node; the one
local difference from EKS). Spec values win over the runtime's. Without network namespaces, the
runtime also points `AWS_CONTAINER_CREDENTIALS_FULL_URI` at the node's agent on its loopback
address, and without root (no private mounts) rewrites values under a volume's mount path to the
volume's directory, so `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` names a real file.
"""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from podid.kube.model import Obj

IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
AGENT_HOSTS = ("169.254.170.23", "[fd00:ec2::23]")

# image repository (without tag/registry variants) -> (entrypoint, cmd)
IMAGES: dict[str, tuple[list[str], list[str]]] = {
    "amazon/aws-cli": (["aws"], []),
    "public.ecr.aws/aws-cli/aws-cli": (["aws"], []),
    "busybox": ([], ["sh"]),
    "alpine": ([], ["/bin/sh"]),
    "amazonlinux": ([], ["/bin/bash"]),
    "ubuntu": ([], ["/bin/bash"]),
    "debian": ([], ["bash"]),
}

Lookup = Callable[[str, str, str], Obj | None]


class ContainerConfigError(Exception):
    """CreateContainerConfigError / CreateContainerError: the container cannot be started."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def venv_bin() -> str:
    return str(Path(sys.executable).parent)


def repository(image: str) -> str:
    """`amazon/aws-cli:latest` -> `amazon/aws-cli`; `docker.io/library/busybox@sha256:..` -> `busybox`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name.rsplit(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def resolve_command(container: Mapping[str, Any]) -> list[str]:
    """The argv of a container: command/args over the image's entrypoint/cmd, as Docker combines them."""
    image = str(container.get("image", ""))
    entry, cmd = IMAGES.get(repository(image), (None, None)) if image else (None, None)
    command = container.get("command")
    args = container.get("args")
    if command:
        argv = [str(c) for c in command] + [str(a) for a in args or []]
    elif entry is not None and cmd is not None:
        argv = entry + ([str(a) for a in args] if args else cmd)
    else:
        raise ContainerConfigError(
            "CreateContainerError",
            f'podid runs host programs instead of images and has no entrypoint for image "{image}": '
            "set the container's command",
        )
    if not argv:
        raise ContainerConfigError("CreateContainerError", "no command specified")
    return argv


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion; `$$` escapes; unknown references are left as written."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR.sub(sub, value)


def _field(pod: Obj, path: str) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise ContainerConfigError("CreateContainerConfigError", f'unsupported fieldPath "{path}"')


def _ref_value(lookup: Lookup, kind: str, namespace: str, ref: Mapping[str, Any]) -> str | None:
    obj = lookup(kind, namespace, str(ref.get("name")))
    key = str(ref.get("key"))
    label = "configmap" if kind == "ConfigMap" else "secret"
    if obj is None:
        if ref.get("optional"):
            return None
        raise ContainerConfigError("CreateContainerConfigError", f'{label} "{ref.get("name")}" not found')
    if kind == "ConfigMap":
        data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
    else:
        data = {k: base64.b64decode(str(v)).decode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    if key not in data:
        if ref.get("optional"):
            return None
        raise ContainerConfigError(
            "CreateContainerConfigError",
            f"couldn't find key {key} in {label.capitalize()} {namespace}/{ref.get('name')}",
        )
    return data[key]


def spec_env(pod: Obj, container: Mapping[str, Any], lookup: Lookup) -> dict[str, str]:
    """The variables the container spec defines (envFrom, then env, with valueFrom and $(VAR))."""
    namespace = str(pod["metadata"].get("namespace", "default"))
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix", ""))
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if ref is None:
                continue
            obj = lookup(kind, namespace, str(ref.get("name")))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(
                    "CreateContainerConfigError", f'{kind.lower()} "{ref.get("name")}" not found'
                )
            for name in obj.get("data") or {}:
                found = _ref_value(lookup, kind, namespace, {"name": ref.get("name"), "key": name})
                if found is not None:
                    env[prefix + name] = found
    for var in container.get("env") or []:
        name = str(var.get("name"))
        if "valueFrom" in var:
            source = var["valueFrom"] or {}
            value: str | None
            if "fieldRef" in source:
                value = _field(pod, str(source["fieldRef"].get("fieldPath", "")))
            elif "configMapKeyRef" in source:
                value = _ref_value(lookup, "ConfigMap", namespace, source["configMapKeyRef"])
            elif "secretKeyRef" in source:
                value = _ref_value(lookup, "Secret", namespace, source["secretKeyRef"])
            else:
                raise ContainerConfigError("CreateContainerConfigError", f"env {name}: unsupported valueFrom")
            if value is None:
                continue
            env[name] = value
        else:
            env[name] = expand(str(var.get("value", "")), env)
    return env


def container_env(
    pod: Obj,
    container: Mapping[str, Any],
    lookup: Lookup,
    *,
    endpoint_url: str,
    agent_url: str | None,
    path_map: Mapping[str, str],
) -> dict[str, str]:
    """The whole environment of the container's process.

    `agent_url`: when set (no network namespaces), where the node's agent really listens, e.g.
    `http://127.0.3.1:41234`; the link-local credentials URI is pointed there. `path_map`: mount path
    -> host directory, for runtimes that cannot mount (non-root): values under a mount path are
    rewritten.
    """
    env = {"PATH": f"{venv_bin()}:{IMAGE_PATH}", "AWS_ENDPOINT_URL": endpoint_url}
    env.update(spec_env(pod, container, lookup))
    if agent_url:
        uri = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
        for host in AGENT_HOSTS:
            if uri.startswith((f"http://{host}/", f"http://{host}:80/")):
                env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = agent_url + uri.split(host, 1)[1].removeprefix(
                    ":80"
                )
    if path_map:
        for name, value in list(env.items()):
            for mount_path, host_dir in sorted(path_map.items(), key=lambda kv: -len(kv[0])):
                base = mount_path.rstrip("/")
                if value == base or value.startswith(base + "/"):
                    env[name] = host_dir + value[len(base) :]
                    break
    return env


def command_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    return [expand(arg, env) for arg in resolve_command(container)]
