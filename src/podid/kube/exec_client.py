"""The client side of `podid kubectl exec`: a websocket to the runtime, the terminal in raw mode.

With `-t` and a terminal on stdin, the local terminal goes to raw mode (restored on exit) and its
size is sent at start and on every SIGWINCH; with `-i`, stdin is forwarded until EOF (then the
stdin stream is closed, channel 255). The exit status is the command's; for a non-zero status
kubectl's line `command terminated with exit code N` goes to stderr, as kubectl does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import termios
import tty as ttymod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podid.cli.kubectl import Client

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
        return size.columns, size.lines
    except OSError:
        return 80, 24


def exit_code_of(status: dict[str, Any]) -> tuple[int, str]:
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", 1)), ""
    return 1, str(status.get("message", "error: exec failed"))


def exec_in_pod(
    client: Client,
    base: str,
    namespace: str,
    pod: str,
    container: str | None,
    command: list[str],
    *,
    stdin: bool,
    tty: bool,
) -> int:
    from podid.cli.kubectl import KubectlError

    # kubectl: "Unable to use a TTY - input is not a terminal or the right kind of file"
    use_tty = tty and stdin and sys.stdin.isatty()
    if tty and not use_tty:
        sys.stderr.write("Unable to use a TTY - input is not a terminal or the right kind of file\n")
    # preflight with a plain request so errors read like kubectl's (not a failed websocket upgrade)
    client.call("GET", base + "/objects", query=[("kind", "Pod"), ("namespace", namespace), ("name", pod)])
    try:
        return asyncio.run(_session(client, base, namespace, pod, container, command, stdin, use_tty))
    except _UpgradeError as exc:
        raise KubectlError(str(exc)) from None


class _UpgradeError(Exception):
    pass


async def _session(
    client: Client,
    base: str,
    namespace: str,
    pod: str,
    container: str | None,
    command: list[str],
    stdin: bool,
    tty: bool,
) -> int:
    import aiohttp

    cols, rows = _size()
    query: list[tuple[str, str]] = [
        ("namespace", namespace),
        ("pod", pod),
        ("cols", str(cols)),
        ("rows", str(rows)),
    ]
    if container:
        query.append(("container", container))
    if tty:
        query.append(("tty", "1"))
    if stdin:
        query.append(("stdin", "1"))
    query += [("command", c) for c in command]
    url = client.base.replace("http://", "ws://", 1) + base + "/exec"
    loop = asyncio.get_running_loop()
    saved: list[Any] | None = None
    pending: set[asyncio.Task[None]] = set()
    code = 1
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(
                url,
                params=query,
                headers={"Authorization": f"Bearer {client.token}"},
                protocols=("v5.channel.k8s.io",),
                max_msg_size=0,
                autoping=True,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise _UpgradeError(await _error_text(session, url, query, client.token, exc)) from None
        if tty:
            saved = termios.tcgetattr(sys.stdin.fileno())
            ttymod.setraw(sys.stdin.fileno(), termios.TCSANOW)  # keep type-ahead (no flush)

            def resized() -> None:
                w, h = _size()
                pending.add(
                    loop.create_task(
                        ws.send_bytes(bytes([RESIZE]) + json.dumps({"Width": w, "Height": h}).encode())
                    )
                )

            loop.add_signal_handler(signal.SIGWINCH, resized)
        feeder = loop.create_task(_feed(ws)) if stdin else None
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                channel, payload = msg.data[0], msg.data[1:]
                if channel == STDOUT:
                    sys.stdout.buffer.write(payload)
                    sys.stdout.buffer.flush()
                elif channel == STDERR:
                    sys.stderr.buffer.write(payload)
                    sys.stderr.buffer.flush()
                elif channel == STATUS:
                    code, message = exit_code_of(json.loads(payload))
                    if message:
                        sys.stderr.write(message + "\n")
        finally:
            if feeder is not None:
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeder
            if saved is not None:
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
                loop.remove_signal_handler(signal.SIGWINCH)
    if code != 0:
        sys.stderr.write(f"command terminated with exit code {code}\n")
    return code


async def _error_text(
    session: Any, url: str, query: list[tuple[str, str]], token: str, exc: Exception
) -> str:
    http_url = url.replace("ws://", "http://", 1)
    try:
        async with session.get(http_url, params=query, headers={"Authorization": f"Bearer {token}"}) as resp:
            body = await resp.json(content_type=None)
            return str(body.get("message", exc))
    except Exception:
        return f"error: unable to upgrade connection: {exc}"


async def _feed(ws: Any) -> None:
    """Forward stdin to the command until EOF."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    try:
        loop.add_reader(fd, lambda: queue.put_nowait(os.read(fd, 65536)))
        reader = True
    except (PermissionError, ValueError, OSError):
        reader = False  # a regular file: read it in a thread
    try:
        while True:
            data = await queue.get() if reader else await loop.run_in_executor(None, os.read, fd, 65536)
            if not data:
                break
            await ws.send_bytes(bytes([STDIN]) + data)
        await ws.send_bytes(bytes([CLOSE, STDIN]))
    finally:
        if reader:
            loop.remove_reader(fd)
