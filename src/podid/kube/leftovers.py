"""Process groups a podid run started, recorded so that the next run can end them after a crash.

Each container process is its own process group; its pid and kernel start time (field 22 of
/proc/<pid>/stat) go to `<pod dir>/pids`. At start, the runtime kills the recorded groups whose pid
still has the recorded start time (a reused pid never matches) and forgets the records.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def record_pid(pod_dir: Path, pid: int) -> None:
    """Remember a process group we started, so that a later run can end it after a crash."""
    ticks = _start_ticks(pid)
    if ticks is not None:
        with open(pod_dir / "pids", "a") as handle:
            handle.write(f"{pid} {ticks}\n")


def kill_leftovers(run_dir: Path) -> int:
    """End the process groups recorded by a previous run that died without stopping them.

    A pid counts only if its start time still matches the record (pids are reused).
    """
    killed = 0
    for record in run_dir.glob("*/pods/*/pids"):
        for line in record.read_text().splitlines():
            pid_text, _, ticks = line.partition(" ")
            if not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if _start_ticks(pid) == ticks:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                    killed += 1
        record.unlink(missing_ok=True)
    return killed
