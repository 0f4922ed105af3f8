"""Small HTTP requests made from inside a node's network namespace (probes, the agent eviction hook).

A node's agent binds its probe listener on `localhost` *inside* the node's namespace, as the real
agent does, so the runtime (in the host namespace) reaches it from a short-lived thread that has
joined that namespace with setns(2): a network namespace is per thread, so the rest of the process
is unaffected, and a socket keeps the namespace it was created in.
Without a namespace (the non-root fallback) the request is made directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import http.client
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: bytes


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _request(
    netns_path: str | None, method: str, host: str, port: int, path: str, timeout: float
) -> HttpResult:
    if netns_path:
        _setns(netns_path)
    if not path:  # a TCP connect only (tcpSocket probes)
        socket.create_connection((host, port), timeout=timeout).close()
        return HttpResult(0, b"")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers={"Host": f"{host}:{port}"})
        resp = conn.getresponse()
        return HttpResult(resp.status, resp.read())
    finally:
        conn.close()


async def request(
    netns_path: str | None,
    method: str,
    host: str,
    port: int,
    path: str,
    timeout: float = 2.0,  # noqa: ASYNC109
) -> HttpResult:
    """One HTTP request from inside the namespace at `netns_path` (or from here when None).

    An empty `path` only opens (and closes) a TCP connection.

    Raises OSError (connection refused, timeout) like a socket would.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[HttpResult] = loop.create_future()

    def run() -> None:
        try:
            result = _request(netns_path, method, host, port, path, timeout)
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome: Callable[[], None] = functools.partial(_settle_exc, future, exc)
        else:
            outcome = functools.partial(_settle, future, result)
        # the awaiting side may be gone (cancelled, its loop closed at shutdown): nobody to tell
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(outcome)

    # a fresh thread each time: it dies in the namespace it joined, never reused for other work
    threading.Thread(target=run, name="podid-netns-http", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[HttpResult], result: HttpResult) -> None:
    if not future.done():
        future.set_result(result)


def _settle_exc(future: asyncio.Future[HttpResult], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
