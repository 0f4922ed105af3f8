"""The credential cache: a `CredentialRetriever` decorator, the real agent's rules (reference §3.4).

- Keyed by the raw token; LRU bounded by `max_size`, ordered by *set* (a lookup does not refresh
  the order, as in the real agent); overflow evicts the least recently set entry.
- A lookup whose entry has more than 15 s left is a hit. An entry with 15 s or less is dropped and
  the lookup is a miss. Credentials fetched with 15 s or less left are an error (500).
- Stored with `refresh = min(remaining, renewal)`, `expire = remaining`.
- The janitor (every minute) renews due entries with the *original* token, at most `refresh_qps`
  per second (a token bucket, burst = qps); on success the entry is re-stored; on an irrecoverable
  error (`is_irrecoverable`) it is dropped; on any other error, or when the limiter cannot let it
  start within this pass, the old credentials are kept (if more than 15 s left) and retried after
  1 min + up to 1 min jitter. Then entries past their expiry are dropped.
- Errors are never cached.

Our changes to the real agent, each on purpose:
- concurrent lookups of one token share one upstream call through an asyncio future (the real agent
  polls every 200 ms up to 9 times, and each waiter calls upstream itself if the first call failed;
  here every waiter gets the one result, success or error), and the shared call is shielded, so a
  client that disconnects does not cancel it for the others;
- entries whose token has expired are not renewed but dropped (the real agent renews them until EKS
  Auth answers `ExpiredTokenException`), so pods that are gone stop costing upstream calls;
- `evict_pod(pod_uid)` drops the entries of a deleted pod at once (the pod UID comes from the
  token's `kubernetes.io.pod.uid` claim, read unverified);
- renewals are paced: a due entry waits for the limiter's next token (earliest due first, renewals
  running concurrently) instead of being skipped. The real agent calls `Allow()` in a sequential
  loop, so it renews about `qps` entries per second of upstream latency and skips the rest, which
  starves large caches when EKS Auth answers fast; here up to `qps` x 60 entries start per pass.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from podid.agent.metrics import AgentMetrics
from podid.agent.model import (
    CredentialRequest,
    CredentialRetriever,
    Credentials,
    FetchError,
    error_code,
    is_irrecoverable,
)
from podid.agent.ratelimit import TokenBucket
from podid.clock import Clock

log = logging.getLogger("podid.agent.cache")

MIN_CREDENTIAL_TTL = 15.0
RETRY_INTERVAL = 60.0
MAX_RETRY_JITTER = 60.0
CLEANUP_INTERVAL = 60.0
RENEWAL_TIMEOUT = 60.0


@dataclass
class _Entry:
    request: CredentialRequest
    credentials: Credentials
    refresh_at: datetime
    expire_at: datetime


class CachingRetriever:
    """Caches a delegate's credentials by token; see the module docstring for the rules."""

    def __init__(
        self,
        delegate: CredentialRetriever,
        *,
        clock: Clock,
        metrics: AgentMetrics,
        renewal: float = 3 * 3600.0,
        max_size: int = 2000,
        refresh_qps: int = 3,
        cleanup_interval: float = CLEANUP_INTERVAL,
        jitter: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if refresh_qps <= 0:
            refresh_qps = 3
        if refresh_qps * int(renewal) < max_size // 2:
            # The real agent refuses to start with a janitor that cannot keep up.
            raise ValueError(
                f"Refresh QPS is too small ({refresh_qps}) or credentials renewal to small "
                f"({renewal:.2f}s) to keep up with cache's size ({max_size})"
            )
        self.delegate = delegate
        self.clock = clock
        self.metrics = metrics
        self.renewal = renewal
        self.max_size = max_size
        self.cleanup_interval = cleanup_interval
        self.jitter = jitter
        self.sleep = sleep
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Credentials]] = {}
        self._limiter = TokenBucket(refresh_qps, refresh_qps, clock.monotonic)
        metrics.track_cache_size(lambda: len(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return token in self._entries

    # -- lookups ---------------------------------------------------------------------------------
    async def get_credentials(self, request: CredentialRequest) -> Credentials:
        token = request.token
        entry = self._entries.get(token)
        if entry is not None:
            if entry.credentials.remaining(self.clock.now()) > MIN_CREDENTIAL_TTL:
                self.metrics.cache_hits.inc()
                return entry.credentials
            self._remove(token, "stale")
        shared = self._inflight.get(token)
        if shared is None:
            shared = asyncio.ensure_future(self._fetch(request))
            self._inflight[token] = shared
            shared.add_done_callback(lambda done: self._call_done(token, done))
        return await asyncio.shield(shared)

    def _call_done(self, token: str, done: asyncio.Future[Credentials]) -> None:
        if self._inflight.get(token) is done:
            del self._inflight[token]
        if not done.cancelled():
            done.exception()  # retrieved: no "exception never retrieved" when every waiter left

    async def _fetch(self, request: CredentialRequest) -> Credentials:
        self.metrics.cache_state("miss")
        try:
            credentials = await self.delegate.get_credentials(request)
        except FetchError as exc:
            raise FetchError(f"error getting credentials to cache: {exc.message}") from exc
        remaining = credentials.remaining(self.clock.now())
        if remaining <= MIN_CREDENTIAL_TTL:
            raise FetchError(
                f"fetched credentials are expired or will expire within the next {remaining:.2f} seconds"
            )
        self._store(request, credentials)
        return credentials

    def _store(self, request: CredentialRequest, credentials: Credentials) -> None:
        now = self.clock.now()
        remaining = credentials.remaining(now)
        refresh = now + timedelta(seconds=min(remaining, self.renewal))
        self._set(request.token, _Entry(request, credentials, refresh, credentials.expiration))

    def _set(self, token: str, entry: _Entry) -> None:
        self._entries.pop(token, None)
        self._entries[token] = entry
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)
            self.metrics.cache_state("evicted")
            self.metrics.cache_removals.labels("lru").inc()

    def _remove(self, token: str, reason: str) -> None:
        if self._entries.pop(token, None) is not None:
            self.metrics.cache_removals.labels(reason).inc()

    # -- hooks -----------------------------------------------------------------------------------
    def evict_pod(self, pod_uid: str) -> int:
        """Drop every entry whose token names this pod; returns how many were dropped."""
        tokens = [t for t, e in self._entries.items() if e.request.pod_uid == pod_uid]
        for token in tokens:
            self._remove(token, "pod_evicted")
        return len(tokens)

    # -- the janitor -----------------------------------------------------------------------------
    async def run_janitor(self) -> None:
        """Renew and expire entries every `cleanup_interval` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                await self.refresh_or_evict()
            except Exception:  # the janitor must survive anything one pass does
                log.exception("cache janitor pass failed")

    async def refresh_or_evict(self) -> None:
        """One janitor pass: renew what is due (paced at the QPS), then drop what has expired."""
        now = self.clock.now()
        due = sorted(
            ((t, e) for t, e in self._entries.items() if now > e.refresh_at),
            key=lambda item: item[1].refresh_at,
        )
        began = self.clock.monotonic()
        renewals: list[asyncio.Task[None]] = []
        for token, entry in due:
            if self._entries.get(token) is not entry:
                continue
            token_exp = entry.request.token_expires_at
            if token_exp is not None and self.clock.now().timestamp() >= token_exp:
                self._remove(token, "token_expired")
                continue
            wait = self._limiter.wait_time()
            if self.clock.monotonic() - began + wait > self.cleanup_interval:
                # Cannot start within this pass: keep serving, retry after 1 min + jitter.
                self.metrics.cache_refreshes.labels("throttled").inc()
                self._keep(token, entry)
                continue
            while not self._limiter.allow():
                await self.sleep(max(wait, 0.001))
                wait = self._limiter.wait_time()
            renewals.append(asyncio.create_task(self._renew(token, entry)))
        if renewals:
            await asyncio.gather(*renewals)
        now = self.clock.now()
        for token, entry in list(self._entries.items()):
            if now > entry.expire_at:
                self._remove(token, "expired")

    async def _renew(self, token: str, entry: _Entry) -> None:
        try:
            credentials = await asyncio.wait_for(
                self.delegate.get_credentials(entry.request), RENEWAL_TIMEOUT
            )
        except Exception as exc:
            code = is_irrecoverable(exc)
            if code is not None:
                log.info("dropping cached credentials after %s", code)
                self.metrics.cache_error("NonRecoverable", code)
                self.metrics.cache_refreshes.labels("irrecoverable_error").inc()
                if self._entries.get(token) is entry:
                    self._remove(token, "irrecoverable")
                return
            log.warning("renewal failed, keeping cached credentials: %s", exc)
            self.metrics.cache_error("Recoverable", error_code(exc))
            self.metrics.cache_refreshes.labels("recoverable_error").inc()
            self._keep(token, entry)
            return
        if credentials.remaining(self.clock.now()) <= MIN_CREDENTIAL_TTL:
            self.metrics.cache_refreshes.labels("stale").inc()
            self._keep(token, entry)
            return
        self._store(entry.request, credentials)
        self.metrics.cache_state("hit")
        self.metrics.cache_refreshes.labels("success").inc()

    def _keep(self, token: str, entry: _Entry) -> None:
        """Keep serving the old credentials; try again in 1 min plus jitter."""
        if self._entries.get(token) is not entry:
            return  # replaced or removed meanwhile
        now = self.clock.now()
        remaining = entry.credentials.remaining(now)
        if remaining <= MIN_CREDENTIAL_TTL:
            return  # left to expire
        retry = min(remaining, RETRY_INTERVAL + self.jitter() * MAX_RETRY_JITTER)
        entry.refresh_at = now + timedelta(seconds=retry)
        self._entries.move_to_end(token)
