"""The agent's Prometheus metrics, in a registry each agent owns (no global default registry).

The real agent's three families keep their exact names, labels and meaning (reference §3.5), so
dashboards built for it keep working; client_golang exposes counters without a `_total` suffix,
which prometheus-client would add, so these three are rendered here by hand:

- `pod_identity_http_response{code}`: every `/v1/credentials` outcome except rate-limiter 429s and
  404s for other paths;
- `pod_identity_cache_state{state}`: `miss` (upstream call on a lookup), `hit` (a *successful
  background refresh*, the real agent's meaning, not a lookup hit), `evicted` (LRU overflow);
- `pod_identity_cache_errors{type,code}`: failed renewals, `type` `Recoverable`/`NonRecoverable`.

Our own metrics say what they count: `podid_agent_cache_hits_total` (lookups answered from the
cache), `podid_agent_cache_refreshes_total{result}`, `podid_agent_cache_removals_total{reason}`,
`podid_agent_cache_entries`, `podid_agent_upstream_request_duration_seconds{outcome}`, plus the
process/platform/GC collectors (the Go agent exposes Go/process collectors).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

_REAL_FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("pod_identity_http_response", "Pod Identity http response code", ("code",)),
    (
        "pod_identity_cache_errors",
        "Removing credentials from cache, got non recoverable error",
        ("type", "code"),
    ),
    ("pod_identity_cache_state", "The state of credential in cache", ("state",)),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _go_float(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


class AgentMetrics:
    """All counters of one agent; `render()` is the `/metrics` body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._real: dict[str, dict[tuple[str, ...], float]] = {name: {} for name, _, _ in _REAL_FAMILIES}
        self.cache_hits = Counter(
            "podid_agent_cache_hits", "Credential lookups answered from the cache", registry=self.registry
        )
        self.cache_refreshes = Counter(
            "podid_agent_cache_refreshes",
            "Background renewals of cached credentials, by result",
            ["result"],
            registry=self.registry,
        )
        self.cache_removals = Counter(
            "podid_agent_cache_removals",
            "Cache entries removed, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.cache_entries = Gauge(
            "podid_agent_cache_entries", "Entries in the credential cache", registry=self.registry
        )
        self.upstream_latency = Histogram(
            "podid_agent_upstream_request_duration_seconds",
            "Duration of each EKS Auth attempt, by outcome",
            ["outcome"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    # -- the real agent's families ---------------------------------------------------------------
    def _inc(self, family: str, labels: tuple[str, ...]) -> None:
        values = self._real[family]
        values[labels] = values.get(labels, 0.0) + 1.0

    def http_response(self, code: int) -> None:
        self._inc("pod_identity_http_response", (str(code),))

    def cache_state(self, state: str) -> None:
        self._inc("pod_identity_cache_state", (state,))

    def cache_error(self, kind: str, code: str) -> None:
        self._inc("pod_identity_cache_errors", (kind, code))

    def real_value(self, family: str, *labels: str) -> float:
        return self._real[family].get(tuple(labels), 0.0)

    # -- ours ------------------------------------------------------------------------------------
    def observe_upstream(self, seconds: float, outcome: str) -> None:
        self.upstream_latency.labels(outcome).observe(seconds)

    def track_cache_size(self, size: Callable[[], int]) -> None:
        self.cache_entries.set_function(lambda: float(size()))

    def render(self) -> bytes:
        lines: list[str] = []
        for name, help_text, label_names in _REAL_FAMILIES:
            values = self._real[name]
            if not values:
                continue  # client_golang omits vectors with no children
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} counter")
            for labels, value in sorted(values.items()):
                rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(label_names, labels, strict=True))
                lines.append(f"{name}{{{rendered}}} {_go_float(value)}")
        head = ("\n".join(lines) + "\n").encode() if lines else b""
        return head + generate_latest(self.registry)
