"""The `podid` command line as a separate process, the way a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def podid_env(state_dir: Path | None = None) -> dict[str, str]:
    """The test's environment without AWS_*/PODID_* variables, with PODID_STATE_DIR when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    if state_dir is not None:
        env["PODID_STATE_DIR"] = str(state_dir)
    return env


def podid(
    state_dir: Path | None,
    *args: str,
    input: str | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m podid ARGS` (text output captured, never raises on a failing exit)."""
    return subprocess.run(
        [sys.executable, "-m", "podid", *args],
        capture_output=True,
        text=True,
        env=podid_env(state_dir),
        input=input,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def kubectl(
    state_dir: Path, *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `podid kubectl ARGS` against the instance whose state is in `state_dir`."""
    return podid(state_dir, "kubectl", *args, input=input, timeout=timeout)
