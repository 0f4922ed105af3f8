"""A real endpoint on 127.0.0.1 (the gateway's `running_endpoint`) and aws CLI v1 helpers."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podid.gateway.testing import RunningEndpoint, running_endpoint

ACCOUNT = "111122223333"


@contextmanager
def eks_endpoint(tmp_path: Path) -> Iterator[RunningEndpoint]:
    """The endpoint with every service (EKS and EKS Auth included), without the local runtime."""
    with running_endpoint(tmp_path / "state", account_id=ACCOUNT) as ep:
        yield ep


def _run(
    ep: RunningEndpoint, args: tuple[str, ...], env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    return ep.aws(*args, "--output", "json", env=env)


def aws_cli(ep: RunningEndpoint, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run the aws CLI v1 against the endpoint; the parsed JSON output (or fail with stderr)."""
    proc = _run(ep, args, env)
    if proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def aws_cli_error(ep: RunningEndpoint, *args: str, env: dict[str, str] | None = None) -> str:
    """Run an aws CLI command that must fail; its stderr."""
    proc = _run(ep, args, env)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
