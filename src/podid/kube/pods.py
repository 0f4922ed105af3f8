"""Pods as processes: what the kubelet does for one pod on one node.

A `PodRunner` owns one pod's life on its node: it writes the pod's volumes (projected tokens from
the cluster's issuer, ConfigMaps, Secrets), waits until its node's agent is ready (when the cluster
has the Pod Identity agent), runs the init containers in order and then every container as a
process in the sandbox (node network namespace, private mounts, container user), follows
`restartPolicy` with the kubelet's back-off (10 s doubling to 300 s; configurable), runs readiness
probes, rotates tokens at 80 % of their lifetime, and reports status: Pending (ContainerCreating)
-> Running, container states, restarts, Succeeded/Failed. Stopping a runner terminates the
processes (SIGTERM, then SIGKILL after the grace period) and asks the node's agent to forget the
pod's credentials. Logs go to `<pod dir>/logs/<container>.log` (stdout and stderr together).

Deviation, documented: until a readiness probe first succeeds it is retried every 0.2 s (the kubelet
waits `periodSeconds`), so a pod is Ready as soon as it can be.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from podid.clock import Clock
from podid.kube import probes
from podid.kube.containers import ContainerConfigError, command_argv, container_env
from podid.kube.leftovers import record_pid
from podid.kube.model import Obj, now_rfc3339
from podid.kube.procs import kill_and_reap, spawn
from podid.kube.sandbox import Bind, Sandbox, SandboxError, python_trees
from podid.kube.volumes import Lookup, TokenMinter, VolumeError, write_volumes

MAX_GRACE_S = 5.0  # the runtime must stop everything within 10 s


class NodeHandle(Protocol):
    """What a pod needs from its node (implemented by `podid.kube.nodes.Node`)."""

    name: str
    address: str
    root: bool
    netns_path: str | None

    def netns_prefix(self) -> list[str]: ...

    @property
    def endpoint_url(self) -> str: ...

    @property
    def agent_url(self) -> str | None: ...

    def agent_args(self, args: list[str]) -> list[str]: ...

    def agent_env(self) -> dict[str, str]: ...

    def probe_port(self, port: int) -> int: ...

    async def wait_agent_ready(self) -> None: ...

    async def wait_credentials(self) -> None: ...

    async def evict(self, pod_uid: str) -> None: ...


@dataclass
class RunnerOptions:
    backoff_initial_s: float = 10.0
    backoff_max_s: float = 300.0
    is_agent_pod: bool = False
    # None: sandbox (user switching, mounts) when running as root; False: the non-root fallback
    privileged: bool | None = None


@dataclass
class _Container:
    spec: dict[str, Any]
    init: bool
    status: dict[str, Any] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    ready: bool = False


def _lifetime_state(state: dict[str, Any]) -> str:
    return next(iter(state), "waiting")


class PodRunner:
    """One pod's processes on its node."""

    def __init__(
        self,
        pod: Obj,
        node: NodeHandle,
        pod_dir: Path,
        clock: Clock,
        mint: TokenMinter,
        lookup: Lookup,
        on_status: Callable[[Obj, dict[str, Any]], None],
        options: RunnerOptions | None = None,
    ) -> None:
        self.pod = pod
        self.uid = str(pod["metadata"]["uid"])
        self.node = node
        self.dir = pod_dir
        self.clock = clock
        self._mint = mint
        self._lookup = lookup
        self._on_status = on_status
        self.options = options or RunnerOptions()
        spec = pod["spec"]
        self._init = [_Container(c, True) for c in spec.get("initContainers") or []]
        self._main = [_Container(c, False) for c in spec.get("containers") or []]
        self._tasks: list[asyncio.Task[None]] = []
        self._main_task: asyncio.Task[None] | None = None
        self._phase = "Pending"
        self._conditions: dict[str, bool] = {"PodScheduled": True}
        self._start_time: str | None = None
        self._stopping = False
        self._stop_task: asyncio.Task[None] | None = None
        self._reason: str | None = None
        self._message: str | None = None
        for c in self._init:
            c.status = self._waiting(c, "PodInitializing")
        for c in self._main:
            c.status = self._waiting(c, "ContainerCreating")

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._main_task = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.uid}")
        self._publish()

    async def stop(self, grace_s: float | None = None) -> None:
        """Terminate every process of the pod and forget its credentials at the node's agent.

        Idempotent, and it runs to the end even when the caller is cancelled (the shutdown is a
        task of its own): when it returns, every task of the pod has finished and every process
        it started has been reaped.
        """
        if self._stop_task is None:
            grace = (
                float(self.pod["spec"].get("terminationGracePeriodSeconds", 30))
                if grace_s is None
                else grace_s
            )
            self._stop_task = asyncio.get_running_loop().create_task(
                self._shutdown(min(grace, MAX_GRACE_S)), name=f"stop pod {self.uid}"
            )
        await asyncio.shield(self._stop_task)

    async def _shutdown(self, grace: float) -> None:
        self._stopping = True  # from here on no container is (re)started
        await self._terminate_all(grace)
        # cancel the pod's tasks, and those they started meanwhile (a probe of a new process)
        while pending := [t for t in [self._main_task, *self._tasks] if t is not None and not t.done()]:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._terminate_all(0.0)  # a process that started during the grace period
        with contextlib.suppress(Exception):
            await self.node.evict(self.uid)

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def stopping(self) -> bool:
        return self._stopping

    # exec support ---------------------------------------------------------------------------------
    def container(self, name: str | None) -> dict[str, Any]:
        if name is None:
            return self._main[0].spec
        for c in [*self._main, *self._init]:
            if c.spec.get("name") == name:
                return c.spec
        raise KeyError(name)

    def running(self, name: str) -> bool:
        return any(
            c.spec.get("name") == name and c.process is not None and c.process.returncode is None
            for c in self._main
        )

    def env_for(self, container: dict[str, Any]) -> dict[str, str]:
        return container_env(
            self.pod,
            container,
            self._lookup,
            endpoint_url=self.node.endpoint_url,
            agent_url=self.node.agent_url,
            path_map=self._path_map(container),
        )

    def sandbox_for(self, container: dict[str, Any]) -> Sandbox:
        sc = {**(self.pod["spec"].get("securityContext") or {}), **(container.get("securityContext") or {})}
        uid = sc.get("runAsUser")
        gid = sc.get("runAsGroup", uid)
        if sc.get("runAsNonRoot") and uid is None:
            raise ContainerConfigError(
                "CreateContainerConfigError",
                f'container has runAsNonRoot and image will run as root (pod: "{self._pod_ref()}", '
                f"container: {container.get('name')})",
            )
        if sc.get("runAsNonRoot") and uid == 0:
            raise ContainerConfigError(
                "CreateContainerConfigError", "container's runAsUser breaks non-root policy"
            )
        groups = [
            int(g) for g in (self.pod["spec"].get("securityContext") or {}).get("supplementalGroups") or []
        ]
        return Sandbox(
            root=self.node.root,
            netns_prefix=self.node.netns_prefix(),
            uid=int(uid) if uid is not None and self.node.root else None,
            gid=int(gid) if gid is not None and self.node.root else None,
            no_new_privs=sc.get("allowPrivilegeEscalation") is False,
            binds=self._binds(container) if self.node.root else (),
            reachable=python_trees(),
            extra_groups=tuple(groups),
        )

    def argv_for(self, container: dict[str, Any], env: dict[str, str]) -> list[str]:
        argv = command_argv(container, env)
        if self.options.is_agent_pod:
            argv = self.node.agent_args(argv)
        return argv

    # internals ------------------------------------------------------------------------------------
    def _pod_ref(self) -> str:
        meta = self.pod["metadata"]
        return f"{meta['name']}_{meta.get('namespace', 'default')}({self.uid})"

    def _binds(self, container: dict[str, Any]) -> list[Bind]:
        volumes = {v.get("name") for v in self.pod["spec"].get("volumes") or []}
        binds = []
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") in volumes:
                source = self.dir / "volumes" / str(mount["name"])
                if mount.get("subPath"):
                    source = source / str(mount["subPath"])
                binds.append(Bind(str(source), str(mount["mountPath"]), bool(mount.get("readOnly", False))))
        return binds

    def _path_map(self, container: dict[str, Any]) -> dict[str, str]:
        if self.node.root:
            return {}
        return {b.target: b.source for b in self._binds(container)}

    def _waiting(self, c: _Container, reason: str, message: str | None = None) -> dict[str, Any]:
        waiting: dict[str, Any] = {"reason": reason}
        if message:
            waiting["message"] = message
        return {
            "name": c.spec.get("name"),
            "image": c.spec.get("image", ""),
            "imageID": "",
            "ready": False,
            "restartCount": int(c.status.get("restartCount", 0)) if c.status else 0,
            "started": False,
            "state": {"waiting": waiting},
            **({"lastState": c.status["lastState"]} if c.status.get("lastState") else {"lastState": {}}),
        }

    async def _run(self) -> None:
        try:
            try:
                self._refresh_at = write_volumes(
                    self.pod, self.dir, self.clock.now(), self._mint, self._lookup
                ).refresh_at
            except VolumeError as exc:
                for c in self._main:
                    c.status = self._waiting(c, "CreateContainerConfigError", str(exc))
                self._publish()
                return
            self._tasks.append(asyncio.get_running_loop().create_task(self._rotate()))
            if self.options.is_agent_pod:
                await self.node.wait_credentials()
            else:
                await self.node.wait_agent_ready()
            self._start_time = now_rfc3339(self.clock.now())
            self._conditions["Initialized"] = not self._init
            self._publish()
            for c in self._init:
                code = await self._run_once(c)
                if code != 0:
                    if self.pod["spec"].get("restartPolicy") == "Never":
                        self._phase = "Failed"
                        self._publish()
                        return
                    # the kubelet restarts a failed init container (Always / OnFailure)
                    while code != 0 and not self._stopping:
                        await asyncio.sleep(self._backoff(c))
                        c.status["restartCount"] = int(c.status.get("restartCount", 0)) + 1
                        code = await self._run_once(c)
            self._conditions["Initialized"] = True
            self._phase = "Running"
            await asyncio.gather(*(self._supervise(c) for c in self._main))
        except asyncio.CancelledError:
            raise

    async def _spawn(self, c: _Container) -> asyncio.subprocess.Process | None:
        """Start one container's process; None (with the status set) when it cannot start."""
        try:
            env = self.env_for(c.spec)
            sandbox = self.sandbox_for(c.spec)
            argv = self.argv_for(c.spec, env)
            if self.options.is_agent_pod:
                env.update(self.node.agent_env())
            launch = sandbox.argv(argv)
        except ContainerConfigError as exc:
            c.status = self._waiting(c, exc.reason, exc.message)
            self._publish()
            return None
        except SandboxError as exc:
            c.status = self._waiting(c, "CreateContainerConfigError", str(exc))
            self._publish()
            return None
        exe = argv[0]
        if "/" not in exe and shutil.which(exe, path=env.get("PATH", "")) is None:
            self._terminated(
                c, 128, "StartError", f'exec: "{exe}": executable file not found in $PATH: unknown'
            )
            return None
        log_dir = self.dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{c.spec.get('name')}.log"
        if log_path.exists() and int(c.status.get("restartCount", 0)) > 0:
            log_path.replace(log_dir / f"{c.spec.get('name')}.previous.log")
        if self._stopping:
            return None
        with open(log_path, "ab") as log:  # noqa: ASYNC230 (a local file, opened once per start)
            try:
                process = await spawn(
                    *launch,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd="/",
                )
            except OSError as exc:
                self._terminated(c, 128, "StartError", str(exc))
                return None
        c.process = process
        record_pid(self.dir, process.pid)
        if self.stopping():  # stopped while the process was being created
            await kill_and_reap(process)
            return None
        started = now_rfc3339(self.clock.now())
        c.status = {
            "name": c.spec.get("name"),
            "image": c.spec.get("image", ""),
            "imageID": "",
            "containerID": f"podid://{process.pid}",
            "ready": False,
            "restartCount": int(c.status.get("restartCount", 0)),
            "started": True,
            "state": {"running": {"startedAt": started}},
            "lastState": c.status.get("lastState") or {},
        }
        self._publish()
        return process

    def _terminated(self, c: _Container, code: int, reason: str, message: str | None = None) -> None:
        running = (c.status.get("state") or {}).get("running") or {}
        term: dict[str, Any] = {
            "exitCode": code,
            "reason": reason,
            "startedAt": running.get("startedAt", now_rfc3339(self.clock.now())),
            "finishedAt": now_rfc3339(self.clock.now()),
        }
        if c.process is not None:
            term["containerID"] = f"podid://{c.process.pid}"
        if message:
            term["message"] = message
        if code < 0:
            term["exitCode"] = 128 - code
            term["signal"] = -code
        c.status = {**c.status, "ready": False, "started": False, "state": {"terminated": term}}
        c.ready = False
        self._publish()

    async def _run_once(self, c: _Container) -> int:
        process = await self._spawn(c)
        if process is None:
            return 128
        code = await process.wait()
        exit_code = code if code >= 0 else 128 - code
        self._terminated(c, code, "Completed" if code == 0 else "Error")
        return exit_code

    def _backoff(self, c: _Container) -> float:
        restarts = int(c.status.get("restartCount", 0))
        return float(min(self.options.backoff_initial_s * (2**restarts), self.options.backoff_max_s))

    async def _supervise(self, c: _Container) -> None:
        policy = str(self.pod["spec"].get("restartPolicy", "Always"))
        while not self._stopping:
            process = await self._spawn(c)
            if process is not None and c.spec.get("readinessProbe"):
                self._tasks.append(asyncio.get_running_loop().create_task(self._probe(c, process)))
            elif process is not None:
                c.ready = True
                c.status["ready"] = True
                self._publish()
            if process is None:
                if self._stopping or (c.status.get("state") or {}).get("waiting"):
                    return  # a configuration error: nothing to restart until the pod is re-created
                code = 128
            else:
                raw = await process.wait()
                if self.stopping():
                    return
                code = raw if raw >= 0 else 128 - raw
                self._terminated(c, raw, "Completed" if raw == 0 else "Error")
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                self._settle_phase()
                return
            delay = self._backoff(c)
            last = dict(c.status.get("state") or {})
            c.status = self._waiting(
                c,
                "CrashLoopBackOff",
                f"back-off {delay:g}s restarting failed container={c.spec.get('name')} pod={self._pod_ref()}",
            )
            c.status["lastState"] = last
            c.status["restartCount"] = int(c.status.get("restartCount", 0)) + 1
            self._publish()
            await asyncio.sleep(delay)

    def _settle_phase(self) -> None:
        states = [(c.status.get("state") or {}).get("terminated") for c in self._main]
        if all(states):
            self._phase = (
                "Succeeded" if all(int(s.get("exitCode", 1)) == 0 for s in states if s) else "Failed"
            )
        self._publish()

    async def _probe(self, c: _Container, process: asyncio.subprocess.Process) -> None:
        probe = c.spec["readinessProbe"]
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        period = float(probe.get("periodSeconds", 10))
        while process.returncode is None and not self._stopping:
            ok = await self._probe_once(c, probe)
            if ok != c.ready:
                c.ready = ok
                c.status["ready"] = ok
                self._publish()
            await asyncio.sleep(period if c.ready else 0.2)

    async def _probe_once(self, c: _Container, probe: dict[str, Any]) -> bool:
        def launch(command: list[str]) -> tuple[list[str], dict[str, str]]:
            return self.sandbox_for(c.spec).argv(command), self.env_for(c.spec)

        return await probes.check(
            probe, c.spec, self.node.address, self.node.netns_path, self.node.probe_port, launch
        )

    async def _rotate(self) -> None:
        """Re-project service-account tokens when 80 % of their lifetime has passed."""
        while True:
            due: datetime | None = getattr(self, "_refresh_at", None)
            if due is None:
                return
            wait = (due - self.clock.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))
                continue
            self._refresh_at = write_volumes(
                self.pod, self.dir, self.clock.now(), self._mint, self._lookup, only_tokens=True
            ).refresh_at

    async def _terminate_all(self, grace: float) -> None:
        """SIGTERM every live container process, SIGKILL after `grace` seconds, reap them all."""
        live = [c.process for c in [*self._init, *self._main] if c.process is not None]
        await asyncio.gather(*(kill_and_reap(p, grace) for p in live if p.returncode is None))

    def _publish(self) -> None:
        if self._stopping:
            return
        statuses = [c.status for c in self._main]
        ready = bool(self._main) and all(c.ready for c in self._main)
        phase = self._phase
        if phase == "Running" and not any(
            "running" in (s.get("state") or {}) or "waiting" in (s.get("state") or {}) for s in statuses
        ):
            phase = self._phase
        conditions = []
        now = now_rfc3339(self.clock.now())
        for ctype, value in (
            ("Initialized", self._conditions.get("Initialized", False)),
            ("Ready", ready),
            ("ContainersReady", ready),
            ("PodScheduled", True),
        ):
            conditions.append(
                {
                    "type": ctype,
                    "status": "True" if value else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                }
            )
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.node.address,
            "hostIPs": [{"ip": self.node.address}],
            "podIP": self.node.address,
            "podIPs": [{"ip": self.node.address}],
            "qosClass": "BestEffort",
            "containerStatuses": statuses,
        }
        if self._start_time:
            status["startTime"] = self._start_time
        if self._init:
            status["initContainerStatuses"] = [c.status for c in self._init]
        self._on_status(self.pod, status)
