"""A token bucket with the semantics of Go's `x/time/rate.Limiter.Allow` (full at start)."""

from __future__ import annotations

from collections.abc import Callable

_ONE = 1.0 - 1e-9  # tolerate float drift in elapsed * rate


class TokenBucket:
    """`rate` tokens per second up to `burst`; `allow()` takes one if available. `rate <= 0` allows all."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._tokens = float(burst)
        self._last = monotonic()

    def _refill(self) -> None:
        now = self._monotonic()
        elapsed = now - self._last
        self._last = now
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)

    def wait_time(self) -> float:
        """Seconds until `allow()` would succeed (0 if it would now)."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        return 0.0 if self._tokens >= _ONE else (1.0 - self._tokens) / self.rate

    def allow(self) -> bool:
        if self.rate <= 0:
            return True
        self._refill()
        if self._tokens >= _ONE:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False
