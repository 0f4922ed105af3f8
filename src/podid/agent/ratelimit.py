"""A token bucket with the semantics of Go's `x/time/rate.Limiter.Allow` (full at start)."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second up to `burst`; `allow()` takes one if available. `rate <= 0` allows all."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._tokens = float(burst)
        self._last = monotonic()

    def allow(self) -> bool:
        if self.rate <= 0:
            return True
        now = self._monotonic()
        elapsed = now - self._last
        self._last = now
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
