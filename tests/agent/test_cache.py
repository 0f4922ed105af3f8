"""The caching decorator against an in-process delegate, with a fake clock (reference §3.4 rules)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from podid.agent.cache import CachingRetriever
from podid.agent.metrics import AgentMetrics
from podid.agent.model import (
    IRRECOVERABLE_CODES,
    CredentialRequest,
    Credentials,
    FetchError,
    UpstreamError,
    error_status_and_body,
)
from podid.clock import FakeClock


class Delegate:
    """Counts calls; answers credentials living `lifetime` seconds, or raises `error`."""

    def __init__(self, clock: FakeClock, lifetime: float = 6 * 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def get_credentials(self, request: CredentialRequest) -> Credentials:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return Credentials(
            f"ASIA{self.calls:04d}",
            "secret",
            "session",
            "111122223333",
            self.clock.now() + timedelta(seconds=self.lifetime),
        )


def _cache(clock: FakeClock, delegate: Delegate, **kwargs: float) -> tuple[CachingRetriever, AgentMetrics]:
    metrics = AgentMetrics()
    options: dict[str, float] = {"renewal": 3 * 3600.0, "max_size": 2000, "refresh_qps": 3}
    options.update(kwargs)

    async def advance(seconds: float) -> None:  # the janitor's pacing sleeps move the fake clock
        clock.advance(seconds)

    cache = CachingRetriever(
        delegate,
        clock=clock,
        metrics=metrics,
        renewal=options["renewal"],
        max_size=int(options["max_size"]),
        refresh_qps=int(options["refresh_qps"]),
        jitter=lambda: 0.5,
        sleep=advance,
    )
    return cache, metrics


def _request(token: str = "tok-1", pod_uid: str = "pod-1", token_exp: int | None = None) -> CredentialRequest:
    return CredentialRequest("demo", token, pod_uid, token_exp)


def _state(metrics: AgentMetrics, state: str) -> float:
    return metrics.real_value("pod_identity_cache_state", state)


async def test_miss_then_hit(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate)
    first = await cache.get_credentials(_request())
    second = await cache.get_credentials(_request())
    assert first is second
    assert delegate.calls == 1
    assert _state(metrics, "miss") == 1
    assert _state(metrics, "hit") == 0  # the real agent's "hit" counts background refreshes only
    assert metrics.cache_hits._value.get() == 1
    await cache.get_credentials(_request("tok-2"))
    assert delegate.calls == 2


async def test_fifteen_second_rule(clock: FakeClock) -> None:
    delegate = Delegate(clock, lifetime=60)
    cache, _ = _cache(clock, delegate)
    await cache.get_credentials(_request())
    clock.advance(44)  # 16 s left: still a hit
    await cache.get_credentials(_request())
    assert delegate.calls == 1
    clock.advance(1)  # 15 s left: a miss
    await cache.get_credentials(_request())
    assert delegate.calls == 2


async def test_fetched_credentials_with_15s_or_less_are_an_error(clock: FakeClock) -> None:
    delegate = Delegate(clock, lifetime=15)
    cache, _ = _cache(clock, delegate)
    with pytest.raises(FetchError) as info:
        await cache.get_credentials(_request())
    assert error_status_and_body(info.value) == (
        500,
        "fetched credentials are expired or will expire within the next 15.00 seconds",
    )
    assert len(cache) == 0


async def test_errors_are_not_cached(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    delegate.error = UpstreamError("ThrottlingException", "slow down", 429, "rid")
    cache, _ = _cache(clock, delegate)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await cache.get_credentials(_request())
    assert delegate.calls == 2


async def test_transport_errors_are_wrapped_like_the_real_agent(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    delegate.error = FetchError("unable to fetch credentials from EKS Auth: boom")
    cache, _ = _cache(clock, delegate)
    with pytest.raises(FetchError) as info:
        await cache.get_credentials(_request())
    assert (
        info.value.message
        == "error getting credentials to cache: unable to fetch credentials from EKS Auth: boom"
    )


async def test_100_concurrent_requests_share_one_upstream_call(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    delegate.gate = asyncio.Event()
    cache, metrics = _cache(clock, delegate)
    waiters = [asyncio.ensure_future(cache.get_credentials(_request())) for _ in range(100)]
    await asyncio.sleep(0)
    delegate.gate.set()
    results = await asyncio.gather(*waiters)
    assert delegate.calls == 1
    assert all(r is results[0] for r in results)
    assert _state(metrics, "miss") == 1


async def test_concurrent_requests_share_an_error_too(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    delegate.gate = asyncio.Event()
    delegate.error = UpstreamError("InternalServerException", "oops", 500, "rid")
    cache, _ = _cache(clock, delegate)
    waiters = [asyncio.ensure_future(cache.get_credentials(_request())) for _ in range(10)]
    await asyncio.sleep(0)
    delegate.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert delegate.calls == 1
    assert all(isinstance(r, UpstreamError) for r in results)


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    delegate.gate = asyncio.Event()
    cache, _ = _cache(clock, delegate)
    leaving = asyncio.ensure_future(cache.get_credentials(_request()))
    staying = asyncio.ensure_future(cache.get_credentials(_request()))
    await asyncio.sleep(0)
    leaving.cancel()
    delegate.gate.set()
    assert (await staying).access_key_id == "ASIA0001"
    assert "tok-1" in cache


async def test_refresh_at_renewal_ceiling_counts_as_hit(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate)
    first = await cache.get_credentials(_request())
    clock.advance(3 * 3600 - 10)
    await cache.refresh_or_evict()
    assert delegate.calls == 1  # not due yet
    clock.advance(11)
    await cache.refresh_or_evict()
    assert delegate.calls == 2
    assert _state(metrics, "hit") == 1
    assert metrics.cache_refreshes.labels("success")._value.get() == 1
    renewed = await cache.get_credentials(_request())
    assert renewed.access_key_id != first.access_key_id


async def test_short_credentials_refresh_at_expiry(clock: FakeClock) -> None:
    delegate = Delegate(clock, lifetime=59 * 60)  # target-role credentials
    cache, _ = _cache(clock, delegate)
    await cache.get_credentials(_request())
    clock.advance(59 * 60 - 1)
    await cache.refresh_or_evict()
    assert delegate.calls == 1
    clock.advance(2)
    await cache.refresh_or_evict()
    assert delegate.calls == 2
    assert len(cache) == 1


@pytest.mark.parametrize("code", sorted(IRRECOVERABLE_CODES))
async def test_irrecoverable_renewal_errors_evict(clock: FakeClock, code: str) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate)
    await cache.get_credentials(_request())
    delegate.error = UpstreamError(code, "gone", 404 if code == "ResourceNotFoundException" else 400, "rid")
    clock.advance(3 * 3600 + 1)
    await cache.refresh_or_evict()
    assert len(cache) == 0
    assert metrics.real_value("pod_identity_cache_errors", "NonRecoverable", code) == 1


@pytest.mark.parametrize(
    ("error", "label"),
    [
        (UpstreamError("ThrottlingException", "slow", 429, "r"), "ThrottlingException"),
        (UpstreamError("InternalServerException", "x", 500, "r"), "InternalServerException"),
        (UpstreamError("InvalidParameterException", "x", 400, "r"), "InvalidParameterException"),
        (FetchError("connection refused"), "Unknown"),
    ],
)
async def test_recoverable_renewal_errors_keep_serving_and_retry_later(
    clock: FakeClock, error: Exception, label: str
) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate)
    first = await cache.get_credentials(_request())
    delegate.error = error
    clock.advance(3 * 3600 + 1)
    await cache.refresh_or_evict()
    assert delegate.calls == 2
    assert metrics.real_value("pod_identity_cache_errors", "Recoverable", label) == 1
    assert await cache.get_credentials(_request()) is first  # still served
    clock.advance(60)  # retry in 1 min + jitter (0.5 here: 90 s)
    await cache.refresh_or_evict()
    assert delegate.calls == 2
    clock.advance(31)
    delegate.error = None
    await cache.refresh_or_evict()
    assert delegate.calls == 3
    assert (await cache.get_credentials(_request())).access_key_id == "ASIA0003"


async def test_renewals_are_paced_at_the_qps(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate, refresh_qps=3, max_size=10, renewal=3600)
    for i in range(5):
        await cache.get_credentials(_request(f"tok-{i}"))
    clock.advance(3601)
    began = clock.monotonic()
    await cache.refresh_or_evict()
    assert delegate.calls == 5 + 5  # burst 3, then one every 1/3 s
    assert clock.monotonic() - began == pytest.approx(2 / 3)
    assert metrics.cache_refreshes.labels("success")._value.get() == 5


async def test_entries_the_limiter_cannot_start_in_a_pass_are_kept(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate, refresh_qps=3, max_size=300, renewal=3600)
    for i in range(300):
        await cache.get_credentials(_request(f"tok-{i}"))
    clock.advance(3601)
    await cache.refresh_or_evict()
    renewed = delegate.calls - 300
    assert 180 <= renewed <= 184  # burst + 3/s over a 60 s pass
    assert metrics.cache_refreshes.labels("throttled")._value.get() == 300 - renewed
    assert len(cache) == 300
    clock.advance(91)  # the kept ones are due again after 1 min + jitter
    await cache.refresh_or_evict()
    assert delegate.calls == 600


async def test_expired_entries_are_dropped(clock: FakeClock) -> None:
    delegate = Delegate(clock, lifetime=600)
    cache, _ = _cache(clock, delegate)
    await cache.get_credentials(_request())
    delegate.error = UpstreamError("InternalServerException", "down", 500, "r")
    clock.advance(601)
    await cache.refresh_or_evict()
    assert len(cache) == 0


async def test_lru_evicts_least_recently_set(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate, max_size=2)
    await cache.get_credentials(_request("a"))
    await cache.get_credentials(_request("b"))
    await cache.get_credentials(_request("a"))  # a lookup does not refresh the order
    await cache.get_credentials(_request("c"))
    assert "a" not in cache
    assert "b" in cache
    assert "c" in cache
    assert _state(metrics, "evicted") == 1


async def test_entries_whose_token_expired_are_not_renewed(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, metrics = _cache(clock, delegate, renewal=3600)
    token_exp = int(clock.now().timestamp()) + 1800
    await cache.get_credentials(_request(token_exp=token_exp))
    clock.advance(3601)
    await cache.refresh_or_evict()
    assert delegate.calls == 1
    assert len(cache) == 0
    assert metrics.cache_removals.labels("token_expired")._value.get() == 1


async def test_evict_pod(clock: FakeClock) -> None:
    delegate = Delegate(clock)
    cache, _ = _cache(clock, delegate)
    await cache.get_credentials(_request("t1", pod_uid="p1"))
    await cache.get_credentials(_request("t2", pod_uid="p1"))
    await cache.get_credentials(_request("t3", pod_uid="p2"))
    assert cache.evict_pod("p1") == 2
    assert cache.evict_pod("p1") == 0
    assert len(cache) == 1


def test_refuses_a_janitor_that_cannot_keep_up(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="Refresh QPS is too small"):
        _cache(clock, Delegate(clock), renewal=100, refresh_qps=3, max_size=2000)
