"""The webhook's HTTPS transport: `POST /mutate` and `GET /healthz`, as the real webhook serves them.

Thin on purpose: the decision is `podid.webhook.mutate.review`. What this adds is the real
webhook's HTTP behaviour (`pkg/handler/handler.go Handle`, `main.go`):

- `Content-Type` must be exactly `application/json` (the real one compares the whole header), else
  `415` with the body "Invalid Content-Type, expected `application/json`" (Go's `http.Error`,
  which appends a newline and sends text/plain);
- a body that is not JSON is answered `200` with an AdmissionReview whose response carries
  `allowed: false` and the decode error in `status.message`;
- `GET /healthz` answers `ok`.

The review runs in a worker thread because an identity source may block (the EKS API source makes
an HTTP call on a cache miss). TLS certificates are loaded once at start.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from podid.webhook.config import IdentitySource, ServiceAccountSource, WebhookConfig
from podid.webhook.mutate import ADMISSION_V1, review

CONTENT_TYPE_ERROR = "Invalid Content-Type, expected `application/json`"
# An AdmissionReview carries the whole Pod; etcd's object limit is 1.5 MiB.
MAX_BODY = 3 * 1024 * 1024


@dataclass
class _Deps:
    config: WebhookConfig
    identities: IdentitySource
    service_accounts: ServiceAccountSource | None
    rng: random.Random | None


_DEPS_KEY = web.AppKey("podid_webhook_deps", _Deps)


def make_app(
    config: WebhookConfig,
    identities: IdentitySource,
    service_accounts: ServiceAccountSource | None = None,
    rng: random.Random | None = None,
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[_DEPS_KEY] = _Deps(config, identities, service_accounts, rng)
    app.router.add_post("/mutate", _mutate)
    app.router.add_get("/healthz", _healthz)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _mutate(request: web.Request) -> web.Response:
    body = await request.read()
    if request.headers.get("Content-Type", "") != "application/json":
        return web.Response(
            status=415,
            text=CONTENT_TYPE_ERROR + "\n",
            headers={"X-Content-Type-Options": "nosniff"},
        )
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        answer = {
            "apiVersion": ADMISSION_V1,
            "kind": "AdmissionReview",
            "response": {
                "uid": "",
                "allowed": False,
                "status": {"message": f"couldn't decode the AdmissionReview: {exc}"},
            },
        }
    else:
        deps = request.app[_DEPS_KEY]
        answer = await asyncio.to_thread(
            review, document, deps.config, deps.identities, deps.service_accounts, deps.rng
        )
    return web.json_response(answer)


def tls_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2+) from PEM files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


class WebhookServer:
    """The HTTPS server around `make_app`; `start()` returns the bound port (0 picks a free one)."""

    def __init__(
        self,
        app: web.Application,
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 23443,
    ) -> None:
        self._app = app
        self._ssl = ssl_context
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()
        server = site._server  # the asyncio server: the only place the bound port is known
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
