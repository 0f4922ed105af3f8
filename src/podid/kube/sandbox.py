"""How a container's process is started: network namespace, private mounts, user, environment.

There are no images: a container is a host process. When podid runs as root the process gets:
- its node's network namespace (the NodeNetwork's `exec_prefix()`, e.g. `ip netns exec NAME`);
- a private mount namespace (`unshare -m --propagation private`) in which the pod's volumes are
  bind-mounted at their real mount paths (so `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` is exactly
  EKS's `/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token`; a tmpfs is
  mounted over `/var/run/secrets` first so nothing of the host shows there; a missing mount point
  elsewhere is created in a private overlay of its nearest existing ancestor), and in which the
  programs the container needs (the Python installation and the venv holding the aws CLI) are
  made reachable for an unprivileged uid at their own paths even when an ancestor directory is
  private (a 0700 home or checkout): each such ancestor is covered with a tmpfs into which only
  the needed trees are bind-mounted back;
- the container's user (`setpriv --reuid/--regid --clear-groups`, `--no-new-privs` when
  `allowPrivilegeEscalation: false`).
Without root none of this is possible: the process runs as the current user, in the host network,
and the runtime rewrites paths in the environment instead (see `podid.kube.pods`).

The environment is passed as is: nothing in the launch chain adds a variable (dash exports PWD,
so the launcher script unsets it before exec'ing the command).
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SECRETS_ROOT = "/var/run/secrets"


def tool(name: str) -> str:
    """The absolute path of a system tool (the container's PATH must not be needed to find it)."""
    for base in ("/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        candidate = Path(base) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"podid needs {name!r} (util-linux/iproute2) to run pods as root")
    return found


def blocking_ancestor(path: Path, uid: int, gid: int) -> Path | None:
    """The highest ancestor of `path` that `uid` cannot traverse, or None."""
    current = Path("/")
    for part in path.parts[1:-1]:
        current = current / part
        try:
            st = current.stat()
        except OSError:
            return None
        if st.st_uid == uid:
            allowed = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid == gid:
            allowed = bool(st.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(st.st_mode & stat.S_IXOTH)
        if not allowed:
            return current
    return None


@dataclass(frozen=True)
class Bind:
    source: str
    target: str
    read_only: bool = True


@dataclass
class Sandbox:
    """The launch recipe of one container process (or of one exec in it)."""

    root: bool  # podid runs as root: namespaces and user switching are available
    netns_prefix: Sequence[str] = ()
    uid: int | None = None
    gid: int | None = None
    no_new_privs: bool = False
    binds: Sequence[Bind] = ()
    reachable: Sequence[str] = ()  # host trees the process must reach at their own path
    extra_groups: Sequence[int] = field(default_factory=tuple)

    def argv(self, command: Sequence[str], *, tty: bool = False) -> list[str]:
        """The full argv that starts `command` inside the sandbox."""
        prefix: list[str] = [tool("setsid"), "-c"] if tty else []
        if not self.root:
            return [*prefix, *command]
        script = self.script()
        return [
            *prefix,
            *self.netns_prefix,
            tool("unshare"),
            "-m",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            script,
            "podid-sandbox",
            *command,
        ]

    def script(self) -> str:
        mount, mkdir = tool("mount"), tool("mkdir")
        q = shlex.quote
        lines = ["set -e"]
        uid = self.uid if self.uid is not None else 0
        gid = self.gid if self.gid is not None else uid
        reach = self._blocked(uid, gid) if uid != 0 else {}
        plans = [(b, _plan(b.target)) for b in self.binds]
        needs_tmpfs = any(b.target.startswith(SECRETS_ROOT + "/") or plan is not None for b, plan in plans)
        if needs_tmpfs or reach:
            lines.append(f"{mount} -t tmpfs -o mode=0755,size=16m podid-secrets {SECRETS_ROOT}")
        # volumes first: their sources may lie under a directory that is covered below
        for i, (bind, overlay_on) in enumerate(plans):
            target = q(bind.target.rstrip("/") or "/")
            source = q(bind.source)
            if overlay_on is not None:
                # a missing mount point outside /var/run/secrets: its nearest existing ancestor gets a
                # private overlay (writes go to a tmpfs, never to the host) in which it is created
                work = f"{SECRETS_ROOT}/.podid-overlay/{i}"
                lines += [
                    f"{mkdir} -p {q(work)}/upper {q(work)}/work",
                    f"{mount} -t overlay podid-overlay -o lowerdir={q(overlay_on)},upperdir={q(work)}/upper,"
                    f"workdir={q(work)}/work {q(overlay_on)}",
                ]
            if bind.target.startswith(SECRETS_ROOT + "/") or overlay_on is not None:
                lines.append(f"{mkdir} -p {target}")
            lines.append(f"{mount} --bind {source} {target}")
            if bind.read_only:
                lines.append(f"{mount} -o remount,bind,ro {target}")
        if reach:
            lines += self._reachable_lines(reach)
        lines.append("cd /")
        lines.append("unset PWD OLDPWD")
        if self.uid is not None:
            groups = ",".join(str(g) for g in self.extra_groups)
            flags = [f"--reuid={uid}", f"--regid={gid}"]
            flags.append(f"--groups={groups}" if groups else "--clear-groups")
            if self.no_new_privs:
                flags.append("--no-new-privs")
            lines.append(f'exec {tool("setpriv")} {" ".join(flags)} -- "$@"')
        else:
            lines.append('exec "$@"')
        return "\n".join(lines)

    def _blocked(self, uid: int, gid: int) -> dict[Path, list[Path]]:
        by_ancestor: dict[Path, list[Path]] = {}
        for raw in dict.fromkeys(self.reachable):
            path = Path(raw)
            ancestor = blocking_ancestor(path / "x", uid, gid)
            if ancestor is not None:
                by_ancestor.setdefault(ancestor, []).append(path)
        return by_ancestor

    def _reachable_lines(self, by_ancestor: dict[Path, list[Path]]) -> list[str]:
        """Cover private ancestors with a tmpfs and bind the needed trees back at their own paths.

        The trees are staged in the private tmpfs on /var/run/secrets (never under a covered
        directory), then moved into place; the staging directories are removed afterwards.
        """
        mount, mkdir, rmdir = tool("mount"), tool("mkdir"), tool("rmdir")
        q = shlex.quote
        stage = f"{SECRETS_ROOT}/.podid-stage"
        lines: list[str] = []
        staged: list[tuple[str, Path]] = []
        for i, path in enumerate(p for paths in by_ancestor.values() for p in paths):
            slot = f"{stage}/{i}"
            lines += [f"{mkdir} -p {q(slot)}", f"{mount} --rbind {q(str(path))} {q(slot)}"]
            staged.append((slot, path))
        for ancestor in sorted(by_ancestor, key=lambda p: len(p.parts)):
            lines.append(f"{mount} -t tmpfs -o mode=0755,size=1m podid-reach {q(str(ancestor))}")
        for slot, path in staged:
            lines += [
                f"{mkdir} -p {q(str(path))}",
                f"{mount} --move {q(slot)} {q(str(path))}",
                f"{rmdir} {q(slot)}",
            ]
        lines.append(f"{rmdir} {q(stage)}")
        return lines


class SandboxError(Exception):
    """A container's mounts cannot be set up (reported as CreateContainerConfigError)."""


def _mount_points() -> list[str]:
    try:
        with open("/proc/self/mountinfo") as handle:
            return [line.split()[4] for line in handle if len(line.split()) > 4]
    except OSError:
        return []


def _plan(target: str) -> str | None:
    """None when `target` can be bind-mounted as is; else the directory to overlay first."""
    if target.startswith(SECRETS_ROOT + "/") or os.path.isdir(target):
        return None
    ancestor = Path(target)
    while not ancestor.is_dir():
        ancestor = ancestor.parent
    if ancestor == Path("/"):
        raise SandboxError(
            f"cannot create the mount point {target}: podid does not overlay the root directory"
        )
    below = [m for m in _mount_points() if Path(m) != ancestor and Path(m).is_relative_to(ancestor)]
    if below:
        raise SandboxError(
            f"cannot create the mount point {target}: {ancestor} holds other mounts ({', '.join(below[:3])})"
        )
    return str(ancestor)


def python_trees() -> list[str]:
    """The trees a container needs to run the aws CLI installed with podid (venv + interpreter)."""
    import sys

    trees = [os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)]
    return list(dict.fromkeys(trees))
