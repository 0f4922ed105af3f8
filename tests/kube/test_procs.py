"""Cancellation-safe child processes (`podid.kube.procs`): nothing is left running or unreaped."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import pytest

from podid.kube.procs import kill_and_reap, spawn


def ours_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


async def test_a_spawn_cancelled_while_the_process_is_created_leaves_no_process() -> None:
    marker = f"podid-test-{secrets.token_hex(6)}"
    cancelled = 0
    for delay in (0, 0.001, 0.01):
        task = asyncio.ensure_future(
            spawn(
                sys.executable, "-c", "import time; time.sleep(60)", marker, stdin=asyncio.subprocess.DEVNULL
            )
        )
        await asyncio.sleep(delay)
        task.cancel()
        try:
            proc = await task
        except asyncio.CancelledError:
            cancelled += 1
        else:  # on a fast machine the spawn may finish before the cancel lands: nothing to test then
            await kill_and_reap(proc)
        assert ours_with(marker) == []
    assert cancelled >= 1  # at least the zero-delay spawn was cancelled


async def test_kill_and_reap_escalates_to_sigkill_after_the_grace_period() -> None:
    proc = await spawn("sh", "-c", "trap '' TERM; sleep 60 & wait", stdin=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(0.2)  # the trap is set (a TERM before it would just end the shell)
    await kill_and_reap(proc, grace_s=0.3)
    assert proc.returncode == -9


async def test_kill_and_reap_cancelled_still_reaps_then_reraises() -> None:
    marker = f"60.{secrets.randbelow(10**9)}"  # a unique duration names the background sleep
    proc = await spawn("sh", "-c", f"trap '' TERM; sleep {marker} & wait", stdin=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(0.2)
    task = asyncio.ensure_future(kill_and_reap(proc, grace_s=30))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert proc.returncode == -9
    assert ours_with(marker) == []  # the whole group is gone, the background sleep too
