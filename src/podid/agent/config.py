"""The agent's configuration (the real agent's `server` flags, reference §3.1) and its small parsers.

Defaults are the real agent's, except two on purpose: the metrics listener binds 127.0.0.1 (the
real one binds 0.0.0.0) and the EKS Auth endpoint defaults to the local podid endpoint rather than
AWS (podid never talks to AWS unless told to; pass `--endpoint https://eks-auth.<region>.api.aws`).

Host check (reference §3.3): the real agent only accepts `Host` values `169.254.170.23` and
`fd00:ec2::23`. Here the allowed hosts are the bind hosts; a loopback bind host (127.0.0.0/8, ::1)
also allows `localhost`, so an agent on 127.0.0.1 serves SDKs pointed at
`http://127.0.0.1:<port>/v1/credentials` or `http://localhost:<port>/v1/credentials`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_BIND_HOSTS = ("169.254.170.23", "[fd00:ec2::23]")
IPV4_AGENT_ADDRESS = "169.254.170.23"
IPV6_AGENT_ADDRESS = "fd00:ec2::23"

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Go's `time.ParseDuration` (`3h`, `1h30m`, `90s`, `0`), in seconds; ValueError otherwise."""
    s = text.strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        match = _GO_DURATION_PART.match(s, pos)
        if match is None:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def strip_brackets(host: str) -> str:
    return host[1:-1] if len(host) > 1 and host[0] == "[" and host[-1] == "]" else host


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(strip_brackets(host)).is_loopback
    except ValueError:
        return host == "localhost"


def is_ipv6(host: str) -> bool:
    return ":" in strip_brackets(host)


def request_host(value: str) -> str:
    """The real agent's reading of `Host`: Go `net.SplitHostPort` if it succeeds, then `[]` stripped."""
    host = value
    if value.startswith("["):
        end = value.find("]")
        if end != -1 and value[end + 1 : end + 2] == ":" and ":" not in value[end + 2 :]:
            host = value[1:end]
    elif value.count(":") == 1:
        host = value.split(":", 1)[0]
    return strip_brackets(host)


@dataclass
class AgentConfig:
    """Everything `podid agent` is told; durations in seconds."""

    cluster_name: str
    endpoint: str
    region: str
    port: int = 80
    bind_hosts: tuple[str, ...] = DEFAULT_BIND_HOSTS
    probe_address: str = "127.0.0.1"
    probe_port: int = 2703
    metrics_address: str = "127.0.0.1"
    metrics_port: int = 2705
    renewal: float = 3 * 3600.0
    max_cache_size: int = 2000
    max_service_qps: int = 3
    rotate_credentials: bool = False
    # Our extensions (the real values are fixed): per-listener request limit, shutdown grace.
    request_rate: float = 1000.0
    request_burst: int = 500
    shutdown_grace: float = 35.0
    allowed_hosts: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.allowed_hosts:
            self.allowed_hosts = allowed_hosts_for(self.bind_hosts)

    @property
    def cache_enabled(self) -> bool:
        return self.renewal != 0 and self.max_cache_size != 0


def allowed_hosts_for(bind_hosts: tuple[str, ...]) -> tuple[str, ...]:
    """The bind hosts without brackets; with a loopback bind host, `localhost` too."""
    hosts: list[str] = []
    for bind in bind_hosts:
        host = strip_brackets(bind)
        if host not in hosts:
            hosts.append(host)
    if any(is_loopback(h) for h in hosts) and "localhost" not in hosts:
        hosts.append("localhost")
    return tuple(hosts)


class JsonLogFormatter(logging.Formatter):
    """logrus-style JSON lines: `level`, `msg`, `time`, plus any `extra` fields."""

    _skip = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "level": record.levelname.lower().replace("warning", "warn"),
            "msg": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat().replace("+00:00", "Z"),
        }
        for key, value in record.__dict__.items():
            if key not in self._skip:
                doc[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc)


VERBOSITY_LEVELS = {
    "panic": logging.CRITICAL,
    "error": logging.ERROR,
    "info": logging.INFO,
    "trace": logging.DEBUG,
}


def configure_logging(verbosity: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("podid.agent")
    root.handlers[:] = [handler]
    root.setLevel(VERBOSITY_LEVELS.get(verbosity, logging.INFO))
    root.propagate = False
