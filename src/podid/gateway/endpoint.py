"""Assembling and running the endpoint: state, services, pipeline, HTTP listeners.

`Endpoint` owns the store, the domains and providers of every service, the pipeline and the aiohttp
runner. `podid serve`, `podid up`, `podid demo` and the tests all start podid through it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from podid.cli.common import EndpointInfo, write_endpoint
from podid.clock import Clock, SystemClock
from podid.gateway.audit import AuditLog
from podid.gateway.pipeline import Pipeline, ServiceEntry
from podid.gateway.server import RouteHook, make_app
from podid.store import Store
from podid.wire.protocol import ServiceWire

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
ADMIN_FILE = "admin.json"
DB_FILE = "podid.db"


@dataclass(frozen=True)
class EndpointConfig:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 4566
    ephemeral: bool = False
    account_id: str | None = None
    region: str = "us-west-2"
    runtime: bool = True  # run the local cluster runtime (pods as processes)


@dataclass(frozen=True)
class AdminCredentials:
    account_id: str
    access_key_id: str
    secret_access_key: str


def load_or_create_config(state_dir: Path, account_id: str | None, region: str) -> dict[str, Any]:
    """The account id of this state directory (fixed on first start) and its default region (the
    `--region` of the latest start, which `podid env` prints)."""
    path = state_dir / CONFIG_FILE
    if path.exists():
        config: dict[str, Any] = json.loads(path.read_text())
        if account_id and config["account_id"] != account_id:
            raise ValueError(
                f"state directory {state_dir} belongs to account {config['account_id']}, not {account_id}"
            )
        if region and config.get("region") != region:
            # the default region is the running serve's: `podid env` and `podid token` read it here
            config["region"] = region
            _write_private(path, json.dumps(config))
        return config
    config = {
        "account_id": account_id or "".join(secrets.choice("0123456789") for _ in range(12)),
        "region": region,
        "token_key": secrets.token_hex(32),
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    _write_private(path, json.dumps(config))
    return config


def read_admin(state_dir: Path) -> AdminCredentials:
    data = json.loads((state_dir / ADMIN_FILE).read_text())
    return AdminCredentials(data["account_id"], data["access_key_id"], data["secret_access_key"])


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


class Endpoint:
    """The running AWS endpoint with every service podid serves."""

    def __init__(self, config: EndpointConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        state_dir = config.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        settings = load_or_create_config(state_dir, config.account_id, config.region)
        self.account_id: str = settings["account_id"]
        self.region: str = settings["region"]
        self.store = Store(None if config.ephemeral else state_dir / DB_FILE)
        self.audit = AuditLog(state_dir / "audit.log", keep=1000)
        self.port = config.port
        self._runner: web.AppRunner | None = None
        self._sites: dict[str, web.TCPSite] = {}
        self.extra_routes: list[RouteHook] = []
        self._assemble(bytes.fromhex(settings["token_key"]))

    def _assemble(self, token_key: bytes) -> None:
        from podid.gateway.services import build_services

        built = build_services(self, token_key)
        self.services = built
        self.admin = AdminCredentials(self.account_id, *built.iam.bootstrap_admin(self.account_id))
        entries = {
            name: ServiceEntry(wire=ServiceWire.for_service(name), provider=provider)
            for name, provider in built.providers.items()
        }
        self.pipeline = Pipeline(
            entries,
            built.resolver,
            built.authorizer.authorize,
            self.clock,
            self.audit,
            default_region=self.region,
            endpoint_hosts=("localhost", self.config.host),
        )
        self.extra_routes.extend(built.routes)

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        app = make_app(self.pipeline, self.extra_routes)
        # auto_decompress off: a request body is the client's bytes. S3 stores `Content-Encoding: gzip`
        # objects as sent, and a body that is not the gzip it claims must not fail inside aiohttp.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        server = site._server
        if self.config.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1])
        self._sites[self.config.host] = site
        state_dir = self.config.state_dir
        _write_private(
            state_dir / ADMIN_FILE,
            json.dumps(
                {
                    "account_id": self.admin.account_id,
                    "access_key_id": self.admin.access_key_id,
                    "secret_access_key": self.admin.secret_access_key,
                }
            ),
        )
        write_endpoint(state_dir, EndpointInfo(self.config.host, self.port, os.getpid()))
        await self.services.start()

    async def add_listener(self, host: str) -> int:
        """Also listen on `host` (a node's veth address), on the main port if free."""
        if host in self._sites:
            return self.port
        assert self._runner is not None
        site = web.TCPSite(self._runner, host, self.port, reuse_address=True)
        await site.start()
        self._sites[host] = site
        return self.port

    async def stop(self) -> None:
        await self.services.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.audit.close()
        self.store.close()
        endpoint_file = self.config.state_dir / "endpoint.json"
        if endpoint_file.exists():
            try:
                data = json.loads(endpoint_file.read_text())
                if data.get("pid") == os.getpid():
                    endpoint_file.unlink()
            except (OSError, ValueError):
                pass
