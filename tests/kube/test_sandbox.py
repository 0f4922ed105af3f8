"""The container sandbox as root: user switching, private mounts, programs reachable from 0700 trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from podid.kube.sandbox import Bind, Sandbox, blocking_ancestor

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="user switching and mount namespaces need root")


def test_blocking_ancestor(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "a" / "b").mkdir(parents=True)
    os.chmod(private, 0o700)
    os.chmod(tmp_path, 0o755)
    found = blocking_ancestor(private / "a" / "b" / "x", uid=12345, gid=12345)
    # the highest directory the uid cannot traverse (pytest's own base directory may be private too)
    assert found is not None
    assert private == found or private.is_relative_to(found)
    assert blocking_ancestor(Path("/usr/bin/env"), uid=12345, gid=12345) is None


@pytest.mark.root
@root_only
def test_program_in_private_tree_runs_as_container_user(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    tool = checkout / "venv" / "bin" / "hello"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho hello from $(id -u):$(id -g)\n")
    tool.chmod(0o755)
    os.chmod(checkout, 0o700)  # a private checkout, as in a 0700 home directory
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "token").write_text("jwt")
    os.chmod(volume, 0o755)
    (volume / "token").chmod(0o644)
    target = "/var/run/secrets/podid-test.example/serviceaccount"
    os.makedirs("/var/run/secrets", exist_ok=True)
    sandbox = Sandbox(
        root=True,
        uid=1,
        gid=1,
        no_new_privs=True,
        binds=[Bind(str(volume), target)],
        reachable=[str(checkout / "venv")],
    )
    cmd = [str(tool)]
    out = subprocess.run(
        sandbox.argv(["sh", "-c", f"{tool}; cat {target}/token; echo; env"]),
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "hello from 1:1"
    assert lines[1] == "jwt"
    assert lines[2:] == ["PATH=/usr/bin:/bin", "PWD=/"]  # what the container asked for (sh adds PWD)
    # the host saw none of it: no mount leaked, the mount point stayed empty
    assert not Path(target).exists()
    # without the reachable trick the uid cannot run the program
    plain = Sandbox(root=True, uid=1, gid=1)
    denied = subprocess.run(
        plain.argv(cmd),
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    # the read-only bind is read-only
    ro = subprocess.run(
        sandbox.argv(["sh", "-c", f"echo x > {target}/token"]),
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert ro.returncode != 0
    assert "Read-only file system" in ro.stderr or "Permission denied" in ro.stderr


def test_without_root_the_command_runs_as_is() -> None:
    assert Sandbox(root=False, uid=1).argv(["sleep", "1"]) == ["sleep", "1"]
    assert Sandbox(root=False).argv(["sh"], tty=True)[1:] == ["-c", "sh"]


def test_leftover_process_groups_of_a_crashed_run_are_ended(tmp_path: Path) -> None:
    from podid.kube.leftovers import kill_leftovers, record_pid

    pod_dir = tmp_path / "cluster" / "pods" / "uid-1"
    pod_dir.mkdir(parents=True)
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        record_pid(pod_dir, proc.pid)
        (pod_dir / "pids").write_text((pod_dir / "pids").read_text() + "999999999 123\n")  # long gone
        assert kill_leftovers(tmp_path) == 1
        assert proc.wait(timeout=10) == -9
        assert not (pod_dir / "pids").exists()
        assert kill_leftovers(tmp_path) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_orphaned_instances_are_reaped(tmp_path: Path) -> None:
    from podid.kube.runtime import reap_orphans, register

    registry = tmp_path / "registry"
    alive = tmp_path / "alive"
    alive.mkdir()
    gone = tmp_path / "gone"
    gone.mkdir()
    register(registry, "pdaaaaaa", alive)
    register(registry, "pdbbbbbb", gone)
    gone.rmdir()
    cleaned: list[str] = []
    assert reap_orphans(registry, cleaned.append) == ["pdbbbbbb"]
    assert cleaned == ["pdbbbbbb"]
    assert sorted(p.name for p in registry.iterdir()) == ["pdaaaaaa"]
