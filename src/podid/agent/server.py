"""The agent's HTTP listeners: credentials (one per bind host), probes, metrics; start and graceful stop.

Wire behaviour is the real agent's (reference §3.2-3.3): `/v1/credentials` answers any method and
ignores the query; every other path is Go's `404 page not found`; each listener has its own token
bucket (1,000 rps, burst 500) answering `429 Too Many Requests`; error bodies are Go `http.Error`
(`text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`, trailing newline).

Probe listener (127.0.0.1:2703) and metrics listener (127.0.0.1:2705 by default): `/healthz` and
`/readyz` GET each credential listener's `/` and expect 404 (200 empty if all do, 408 on timeout,
500 `Internal Server Error occurred` otherwise); the metrics listener adds `/metrics`. The probe
listener also carries our eviction hook for the local runtime: `POST /podid/v1/evict?pod-uid=<uid>`
drops the cached credentials of that pod and answers `{"evicted": <n>}`.

An IPv6 bind host that cannot be bound (no IPv6 stack, IPv6 disabled, address not assigned) is
logged once and skipped: the IPv4 listener carries on (the real agent crash-loops). Any other bind
failure is fatal. SIGTERM/SIGINT stop accepting, let in-flight requests finish within the grace
period, then exit.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from podid.agent.cache import CachingRetriever
from podid.agent.config import AgentConfig, is_ipv6, request_host, strip_brackets
from podid.agent.metrics import AgentMetrics
from podid.agent.model import (
    AccessDeniedError,
    AgentHttpError,
    CredentialRequest,
    CredentialRetriever,
    RequestValidationError,
    error_status_and_body,
)
from podid.agent.ratelimit import TokenBucket
from podid.agent.token import TokenClaims, TokenError, parse_unverified, validate_times
from podid.clock import Clock

log = logging.getLogger("podid.agent.server")

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

_TEXT_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}
_JSON_HEADERS = {"Content-Type": "application/json"}
_IPV6_UNAVAILABLE = {errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.ENETUNREACH}


def go_http_error(status: int, text: str) -> web.Response:
    """Go's `http.Error(w, text, status)`."""
    return web.Response(status=status, body=(text + "\n").encode(), headers=_TEXT_HEADERS)


def _not_found() -> web.Response:
    return go_http_error(404, "404 page not found")


@dataclass(frozen=True)
class Listener:
    name: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class CredentialsHandler:
    """`/v1/credentials`: host check, token checks, retrieval, the real agent's answers."""

    def __init__(
        self, config: AgentConfig, retriever: CredentialRetriever, clock: Clock, metrics: AgentMetrics
    ) -> None:
        self.cluster_name = config.cluster_name
        self.allowed = frozenset(config.allowed_hosts)
        self.allowed_text = "[" + " ".join(config.allowed_hosts) + "]"
        self.retriever = retriever
        self.clock = clock
        self.metrics = metrics
        # Parsing is deterministic: remember the claims of tokens that parsed (bounded, FIFO).
        self._claims: dict[str, TokenClaims] = {}
        self._claims_limit = 8192

    def _parse(self, token: str) -> TokenClaims:
        claims = self._claims.get(token)
        if claims is None:
            claims = parse_unverified(token)
            if len(self._claims) >= self._claims_limit:
                del self._claims[next(iter(self._claims))]
            self._claims[token] = claims
        return claims

    def _validate(self, request: web.BaseRequest) -> CredentialRequest:
        host = request_host(request.headers.get("Host", ""))
        if host not in self.allowed:
            raise AccessDeniedError(
                "Called agent through invalid address, please use either "
                f"{self.allowed_text} address not {host}"
            )
        token = request.headers.get("Authorization", "")
        if not token:
            raise RequestValidationError("Service account token cannot be empty")
        try:
            claims = self._parse(token)
        except TokenError as exc:
            raise RequestValidationError(f"Service account token cannot be parsed: {exc}") from None
        try:
            validate_times(claims, self.clock.now())
        except TokenError as exc:
            raise RequestValidationError(
                f"Service account token failed basic claim validations: {exc}"
            ) from None
        return CredentialRequest(self.cluster_name, token, claims.pod_uid, claims.expires_at)

    async def handle(self, request: web.BaseRequest) -> web.Response:
        try:
            credentials = await self.retriever.get_credentials(self._validate(request))
        except (AgentHttpError, Exception) as exc:
            if not isinstance(exc, AgentHttpError):
                log.info("error fetching credentials: %s", exc)
            status, text = error_status_and_body(exc)
            self.metrics.http_response(status)
            return go_http_error(status, text)
        self.metrics.http_response(200)
        return web.Response(body=credentials.body, headers=_JSON_HEADERS)


class Agent:
    """All listeners of one agent, around one retriever (cached or not)."""

    def __init__(
        self,
        config: AgentConfig,
        retriever: CredentialRetriever,
        *,
        clock: Clock,
        metrics: AgentMetrics,
        cache: CachingRetriever | None = None,
        background: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = (),
        on_close: tuple[Callable[[], Awaitable[None]], ...] = (),
    ) -> None:
        self.config = config
        self.retriever = retriever
        self.clock = clock
        self.metrics = metrics
        self.cache = cache
        self.credentials_handler = CredentialsHandler(config, retriever, clock, metrics)
        self.credential_listeners: list[Listener] = []
        self.probe_listener: Listener | None = None
        self.metrics_listener: Listener | None = None
        self._runners: list[web.BaseRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._background = background
        self._on_close = on_close
        self._probe_session: aiohttp.ClientSession | None = None

    # -- handlers --------------------------------------------------------------------------------
    def _credentials_server(self) -> Handler:
        limiter = TokenBucket(self.config.request_rate, self.config.request_burst, self.clock.monotonic)
        credentials = self.credentials_handler.handle

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            if request.path != "/v1/credentials":
                return _not_found()
            if not limiter.allow():
                return go_http_error(429, "Too Many Requests")
            return await credentials(request)

        return handle

    def _probe_server(self, with_metrics: bool) -> Handler:
        def limiter() -> TokenBucket:
            return TokenBucket(self.config.request_rate, self.config.request_burst, self.clock.monotonic)

        limiters = {"/healthz": limiter(), "/readyz": limiter()}

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            path = request.path
            if path in limiters:
                if not limiters[path].allow():
                    return go_http_error(429, "Too Many Requests")
                return await self.probe()
            if with_metrics and path == "/metrics":
                return web.Response(
                    body=self.metrics.render(),
                    headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
                )
            if not with_metrics and path == "/podid/v1/evict":
                return self._evict(request)
            return _not_found()

        return handle

    def _evict(self, request: web.BaseRequest) -> web.Response:
        if request.method != "POST":
            response = go_http_error(405, "Method Not Allowed")
            response.headers["Allow"] = "POST"
            return response
        pod_uid = request.query.get("pod-uid", "")
        if not pod_uid:
            return go_http_error(400, "the pod-uid query parameter is required")
        evicted = self.cache.evict_pod(pod_uid) if self.cache is not None else 0
        log.info("evicted cached credentials of pod", extra={"pod-uid": pod_uid, "evicted": evicted})
        return web.json_response({"evicted": evicted})

    async def probe(self) -> web.Response:
        """The real probe: every credential listener must answer `/` with 404 within 10 s."""
        if self._probe_session is None:
            self._probe_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            for listener in self.credential_listeners:
                async with self._probe_session.get(listener.url + "/") as resp:
                    await resp.read()
                    if resp.status != 404:
                        raise RuntimeError(
                            f"unexpected status code recieved, expected 404, got {resp.status}"
                        )
        except TimeoutError:
            return web.Response(status=408)
        except Exception as exc:
            log.error("InternalServerError: %s", exc)
            return web.Response(status=500, body=b"Internal Server Error occurred", content_type="text/plain")
        return web.Response(status=200)

    # -- lifecycle -------------------------------------------------------------------------------
    async def _listen(self, name: str, handler: Handler, host: str, port: int) -> Listener:
        server = web.Server(handler, access_log=None, keepalive_timeout=30.0)  # Go: idle = read timeout, 30 s
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=self.config.shutdown_grace)
        await runner.setup()
        # Go listens with the kernel's somaxconn; aiohttp's default backlog of 128 would drop SYNs in
        # a pod-start storm (each dropped SYN costs the client a 1 s retransmit).
        site = web.TCPSite(runner, strip_brackets(host), port, backlog=4096)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runners.append(runner)
        sockets = server_sockets(runner)
        bound_port = sockets[0].getsockname()[1] if sockets else port
        listener = Listener(name, strip_brackets(host), int(bound_port))
        log.info("listening", extra={"listener": name, "bind-addr": listener.url})
        return listener

    async def start(self) -> None:
        cfg = self.config
        try:
            for host in cfg.bind_hosts:
                try:
                    self.credential_listeners.append(
                        await self._listen("credentials", self._credentials_server(), host, cfg.port)
                    )
                except OSError as exc:
                    if is_ipv6(host) and (exc.errno in _IPV6_UNAVAILABLE or not socket.has_ipv6):
                        log.warning(
                            "IPv6 listener unavailable, continuing without it",
                            extra={"bind-addr": f"[{strip_brackets(host)}]:{cfg.port}", "error": str(exc)},
                        )
                        continue
                    raise
            if not self.credential_listeners:
                raise OSError(errno.EADDRNOTAVAIL, "no credential listener could be bound")
            self.probe_listener = await self._listen(
                "probe", self._probe_server(False), cfg.probe_address, cfg.probe_port
            )
            self.metrics_listener = await self._listen(
                "metrics", self._probe_server(True), cfg.metrics_address, cfg.metrics_port
            )
        except BaseException:
            await self.stop()
            raise
        if self.cache is not None:
            self._tasks.append(asyncio.create_task(self.cache.run_janitor()))
        for job in self._background:
            self._tasks.append(asyncio.create_task(job()))

    async def stop(self) -> None:
        """Stop accepting, drain in-flight requests (bounded by the grace period), release everything."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.gather(*(runner.cleanup() for runner in self._runners), return_exceptions=True)
        self._runners.clear()
        if self._probe_session is not None:
            await self._probe_session.close()
            self._probe_session = None
        for close in self._on_close:
            await close()


def server_sockets(runner: web.BaseRunner) -> list[socket.socket]:
    found: list[socket.socket] = []
    for site in runner.sites:
        server = getattr(site, "_server", None)
        found.extend(getattr(server, "sockets", None) or [])
    return found
