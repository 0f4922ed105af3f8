"""One readiness probe check, as the kubelet runs it: httpGet, tcpSocket or exec.

Network probes are made from inside the node's network namespace (`podid.kube.nsnet`), so that an
agent listening on `localhost:2703` in its namespace is reached there; `exec` probes run in the
container's sandbox with its environment. A probe that cannot be run counts as a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from podid.kube import nsnet
from podid.kube.containers import ContainerConfigError
from podid.kube.procs import kill_and_reap, spawn
from podid.kube.sandbox import SandboxError

# command -> (argv in the container's sandbox, the container's environment)
Launcher = Callable[[list[str]], tuple[list[str], dict[str, str]]]


def port_number(container: Mapping[str, Any], port: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return int(str(port))


async def check(
    probe: Mapping[str, Any],
    container: Mapping[str, Any],
    pod_ip: str,
    netns_path: str | None,
    map_port: Callable[[int], int],
    launch: Launcher,
) -> bool:
    timeout = float(probe.get("timeoutSeconds", 1))
    for kind in ("httpGet", "tcpSocket"):
        if kind in probe:
            spec = probe[kind]
            host = str(spec.get("host") or pod_ip)
            host = "127.0.0.1" if host == "localhost" else host
            port = map_port(port_number(container, spec.get("port")))
            path = str(spec.get("path", "/")) if kind == "httpGet" else ""  # "": connect only
            try:
                result = await nsnet.request(netns_path, "GET", host, port, path, timeout)
            except OSError:
                return False
            return kind == "tcpSocket" or 200 <= result.status < 400
    if "exec" in probe:
        try:
            argv, env = launch([str(a) for a in probe["exec"].get("command") or []])
        except (ContainerConfigError, SandboxError):
            return False
        try:
            proc = await spawn(
                *argv,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                cwd="/",
            )
        except OSError:
            return False
        try:
            return await asyncio.wait_for(proc.wait(), timeout) == 0
        except TimeoutError:
            await kill_and_reap(proc)
            return False
        except asyncio.CancelledError:
            await kill_and_reap(proc)  # the pod is stopping: no probe process outlives it
            raise
    return True
