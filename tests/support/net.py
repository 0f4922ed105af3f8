"""Loopback ports for servers a test starts itself."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` right now (IPv6 when `host` contains a colon).

    The socket is closed before returning, so another process could take the port in between;
    tests that can bind port 0 themselves should prefer that.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
