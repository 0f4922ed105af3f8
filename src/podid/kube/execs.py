"""`kubectl exec` on the server side: a command in a running container, streamed over a websocket.

The command runs with the container's environment only (never the caller's), as the container's
user, in the pod's node network namespace and private mounts (the container's sandbox). Frames use
Kubernetes' channel protocol (`v5.channel.k8s.io`): the first byte of each binary message is the
stream: 0 stdin, 1 stdout, 2 stderr, 3 the final status (JSON, as the API server sends it), 4 a
terminal resize (`{"Width": w, "Height": h}`), 255 close (payload: the stream id; 0 = stdin EOF).
With a TTY the command gets a pseudo-terminal as its controlling terminal (stdout and stderr both
arrive on channel 1, as with kubectl).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import shutil
import signal
import struct
import termios
from typing import Any

from aiohttp import WSMsgType, web

from podid.kube.containers import ContainerConfigError
from podid.kube.pods import PodRunner
from podid.kube.sandbox import SandboxError

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def status_frame(code: int, message: str = "") -> bytes:
    if code == 0:
        body: dict[str, Any] = {"metadata": {}, "status": "Success"}
    else:
        body = {
            "metadata": {},
            "status": "Failure",
            "message": message or f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    return bytes([STATUS]) + json.dumps(body).encode()


def _set_winsize(fd: int, cols: int, rows: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def run_exec(
    ws: web.WebSocketResponse,
    runner: PodRunner,
    container: dict[str, Any],
    command: list[str],
    *,
    tty: bool,
    stdin: bool,
    cols: int = 80,
    rows: int = 24,
) -> None:
    """Run `command` in the container and relay its streams until it exits."""
    try:
        env = runner.env_for(container)
        sandbox = runner.sandbox_for(container)
        sandbox.argv(command)  # the mounts are planned here
    except SandboxError as exc:
        await ws.send_bytes(bytes([STDERR]) + (str(exc) + "\n").encode())
        await ws.send_bytes(status_frame(126, str(exc)))
        return
    except ContainerConfigError as exc:
        await ws.send_bytes(bytes([STDERR]) + (exc.message + "\n").encode())
        await ws.send_bytes(status_frame(126, exc.message))
        return
    if "/" not in command[0] and shutil.which(command[0], path=env.get("PATH", "")) is None:
        message = (
            f"OCI runtime exec failed: exec failed: unable to start container process: exec: "
            f'"{command[0]}": executable file not found in $PATH: unknown'
        )
        await ws.send_bytes(
            bytes([STDOUT if tty else STDERR]) + (message + "\r\n" if tty else message + "\n").encode()
        )
        await ws.send_bytes(status_frame(126, message))
        return
    argv = sandbox.argv(command, tty=tty)
    if tty:
        master, slave = pty.openpty()
        _set_winsize(master, cols, rows)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=slave, stdout=slave, stderr=slave, cwd="/"
            )
        finally:
            os.close(slave)
        await _relay_pty(ws, proc, master, stdin)
    else:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd="/",
            start_new_session=True,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await _relay_pipes(ws, proc)
    code = proc.returncode if proc.returncode is not None else 1
    if code < 0:
        code = 128 - code
    if not ws.closed:
        await ws.send_bytes(status_frame(code))


async def _relay_pipes(ws: web.WebSocketResponse, proc: asyncio.subprocess.Process) -> None:
    async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + chunk)

    async def feed() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDIN and proc.stdin is not None:
                with contextlib.suppress(ConnectionError):
                    proc.stdin.write(payload)
                    await proc.stdin.drain()
            elif channel == CLOSE and proc.stdin is not None and (not payload or payload[0] == STDIN):
                proc.stdin.close()
        # the client went away: end the command as the API server does
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    feeder = asyncio.get_running_loop().create_task(feed())
    try:
        await asyncio.gather(pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR))
        await proc.wait()
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder


async def _relay_pty(
    ws: web.WebSocketResponse, proc: asyncio.subprocess.Process, master: int, stdin: bool
) -> None:
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes | None] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(master)
            output.put_nowait(None)
        else:
            output.put_nowait(data)

    loop.add_reader(master, readable)

    async def pump() -> None:
        while (chunk := await output.get()) is not None:
            if not ws.closed:
                await ws.send_bytes(bytes([STDOUT]) + chunk)

    async def feed() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDIN and stdin:
                with contextlib.suppress(OSError):
                    os.write(master, payload)
            elif channel == RESIZE:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    size = json.loads(payload)
                    _set_winsize(master, int(size["Width"]), int(size["Height"]))
            elif channel == CLOSE and (not payload or payload[0] == STDIN):
                with contextlib.suppress(OSError):
                    os.write(master, b"\x04")  # EOF at the line discipline
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGHUP)

    feeder = loop.create_task(feed())
    pumper = loop.create_task(pump())
    try:
        await proc.wait()
        # the terminal stays readable until every holder of the slave side has exited
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pumper), 2.0)
    finally:
        loop.remove_reader(master)
        os.close(master)
        for task in (feeder, pumper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
