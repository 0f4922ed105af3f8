"""How `podid eksctl` reaches podid: AWS API clients and the local runtime's kube API, like a user.

eksctl talks to AWS through its public APIs only; so does `podid eksctl`: botocore clients with the
endpoint of the running podid (`<state dir>/endpoint.json`) and the administrator's credentials
(`<state dir>/admin.json`), and the kube API that `podid kubectl` uses for nodes and pods.
`Progress` prints eksctl's log lines: `2024-05-01 10:00:00 [ℹ]  message`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from podid.iac.eksctl.schema import ConfigError


class EksctlError(Exception):
    """A failure to report as eksctl does (`Error: <message>`, exit status 1)."""


@dataclass
class Progress:
    """eksctl's logger: timestamped lines with a status glyph, one per event."""

    console: Console

    def _line(self, glyph: str, style: str, message: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        text = Text(f"{stamp} ")
        text.append(f"[{glyph}]", style=style)
        text.append(f"  {message}")
        self.console.print(text, soft_wrap=True, highlight=False)

    def info(self, message: str) -> None:
        self._line("ℹ", "cyan", message)

    def success(self, message: str) -> None:
        self._line("✔", "green", message)

    def warning(self, message: str) -> None:
        self._line("!", "yellow", message)

    def error(self, message: str) -> None:
        self._line("✖", "red", message)


@dataclass
class Podid:
    """Clients for one running podid (its state directory)."""

    state_dir: Path
    endpoint_url: str
    account_id: str
    access_key_id: str
    secret_access_key: str
    default_region: str

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Podid:
        from podid.cli.common import read_endpoint

        admin_file = state_dir / "admin.json"
        if not admin_file.exists() or not (state_dir / "endpoint.json").exists():
            raise EksctlError(
                f"podid is not running for state directory {state_dir}: start it with `podid up`"
            )
        admin = json.loads(admin_file.read_text())
        region = "us-west-2"
        with contextlib.suppress(OSError, ValueError):
            region = json.loads((state_dir / "config.json").read_text()).get("region", region)
        return cls(
            state_dir=state_dir,
            endpoint_url=read_endpoint(state_dir).url,
            account_id=str(admin["account_id"]),
            access_key_id=str(admin["access_key_id"]),
            secret_access_key=str(admin["secret_access_key"]),
            default_region=region,
        )

    def client(self, service: str, region: str) -> Any:
        import botocore.session
        from botocore.config import Config

        session = botocore.session.Session()
        return session.create_client(
            service,
            region_name=region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60
            ),
        )

    def kube(self, region: str, cluster: str) -> Kube:
        from podid.cli.kubectl import connect

        return Kube(connect(self.state_dir), f"/c/{self.account_id}/{region}/{cluster}")


@dataclass
class Kube:
    """The runtime's kube API for one cluster (the `podid kubectl` client)."""

    client: Any
    base: str

    def objects(self, kind: str, namespace: str | None = None, selector: str = "") -> list[dict[str, Any]]:
        from podid.cli.kubectl import KubectlError

        query = [("kind", kind)]
        query.append(("all", "1") if namespace is None else ("namespace", namespace))
        if selector:
            query.append(("selector", selector))
        try:
            answer = self.client.call("GET", self.base + "/objects", query=query)
        except KubectlError as exc:
            raise EksctlError(str(exc)) from None
        return list(answer["items"])

    def apply(self, documents: list[dict[str, Any]]) -> list[str]:
        from podid.cli.kubectl import KubectlError

        try:
            answer = self.client.call(
                "POST",
                self.base + "/apply",
                {"documents": documents, "source": "eksctl", "namespace": "default"},
            )
        except KubectlError as exc:
            raise EksctlError(str(exc)) from None
        if answer["errors"]:
            raise EksctlError("; ".join(answer["errors"]))
        return list(answer["results"])


def is_ready(obj: dict[str, Any]) -> bool:
    """A Node with condition Ready=True, or a Running pod whose containers are all ready."""
    status = obj.get("status") or {}
    if obj.get("kind") == "Node":
        return any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
    statuses = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and bool(statuses) and all(c.get("ready") for c in statuses)


def wait_for(check: Callable[[], bool], what: str, timeout: float, interval: float = 0.1) -> None:
    """Poll `check` until it holds; `EksctlError` naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() >= deadline:
            raise EksctlError(f"timed out waiting for {what} (after {timeout:g}s)")
        time.sleep(interval)


def error_message(exc: BaseException) -> str:
    """The text of a botocore ClientError as the aws CLI prints it, else the exception's text."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        op = getattr(exc, "operation_name", "")
        return f"operation {op}: {err.get('Code', 'Error')}: {err.get('Message', '')}"
    if isinstance(exc, ConfigError):
        return exc.message
    return str(exc)


def parse_duration(text: str) -> float:
    """A Go duration (`25m0s`, `90s`, `1h`) in seconds."""
    import re

    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(v + u for v, u in parts) != text:
        raise EksctlError(f'invalid argument "{text}" for "--timeout" flag: time: invalid duration "{text}"')
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(v) * scale[u] for v, u in parts)
