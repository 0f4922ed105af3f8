"""What every client command shares: finding the state directory and the running endpoint."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ENDPOINT_FILE = "endpoint.json"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566


def default_state_dir() -> Path:
    """The per-user data directory: `$XDG_DATA_HOME/podid` or `~/.local/share/podid`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "podid"


def resolve_state_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """An explicit value, else `PODID_STATE_DIR`, else the default."""
    if value:
        return Path(value).expanduser().resolve()
    env = os.environ.get("PODID_STATE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return default_state_dir()


@dataclass(frozen=True)
class EndpointInfo:
    host: str
    port: int
    pid: int | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def write_endpoint(state_dir: Path, info: EndpointInfo) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (ENDPOINT_FILE + ".tmp")
    tmp.write_text(json.dumps({"host": info.host, "port": info.port, "pid": info.pid}))
    tmp.replace(state_dir / ENDPOINT_FILE)


def read_endpoint(state_dir: Path, host: str | None = None, port: int | None = None) -> EndpointInfo:
    """The endpoint a client should talk to: the running one's file, overridden by --host/--port."""
    found = EndpointInfo(DEFAULT_HOST, DEFAULT_PORT)
    path = state_dir / ENDPOINT_FILE
    if path.exists():
        data = json.loads(path.read_text())
        found = EndpointInfo(str(data["host"]), int(data["port"]), data.get("pid"))
    return EndpointInfo(host or found.host, port or found.port, found.pid)
