"""Child processes that a cancellation cannot leak: spawned whole or not at all, always reaped.

`asyncio.create_subprocess_exec` cancelled half-way kills only the direct child (not its process
group) and a `Process` whose waiter is cancelled is never reaped: at loop close its transport is
reported unclosed ("subprocess N is still running"). `spawn` finishes creating the process even if
its caller is cancelled meanwhile, then kills the new process group and reaps it before the
cancellation goes on; `kill_and_reap` ends a process group and waits for its leader, and does so
to the end even when cancelled while waiting (re-raising the cancellation afterwards).

Every process here is started with `start_new_session=True`, so its pid is its process group id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any


async def spawn(*argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
    """`create_subprocess_exec(*argv, start_new_session=True, **kwargs)`, cancellation-safe."""
    creating = asyncio.ensure_future(asyncio.create_subprocess_exec(*argv, start_new_session=True, **kwargs))
    try:
        return await asyncio.shield(creating)
    except asyncio.CancelledError:
        # the process may exist by now (or soon): end it rather than leave it to run unsupervised
        try:
            process = await creating
        except Exception:
            raise asyncio.CancelledError() from None
        await kill_and_reap(process)
        raise


async def kill_and_reap(process: asyncio.subprocess.Process, grace_s: float = 0.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace_s` (at once when 0), wait for the leader."""
    if process.returncode is not None:
        return
    waiting = asyncio.ensure_future(process.wait())
    cancelled = False
    if grace_s > 0:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(waiting), grace_s)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            cancelled = True
    if not waiting.done():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        while not waiting.done():
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                cancelled = True  # reaping takes milliseconds after SIGKILL: finish it first
    if cancelled:
        raise asyncio.CancelledError()
