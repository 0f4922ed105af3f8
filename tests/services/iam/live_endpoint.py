"""Client helpers for IAM/STS end-to-end tests against `podid.gateway.testing.running_endpoint`.

The endpoint (ephemeral port on 127.0.0.1, in-memory store) runs its event loop in a background
thread, so synchronous clients (boto3, the aws CLI as a subprocess) can talk to it from the test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from podid.gateway.testing import RunningEndpoint, running_endpoint

ACCOUNT = "111122223333"
REGION = "us-west-2"

__all__ = ["ACCOUNT", "REGION", "RunningEndpoint", "admin_client", "aws_cli", "client", "running_endpoint"]


def client(endpoint: RunningEndpoint, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return endpoint.client(service, key, secret, token)


def admin_client(endpoint: RunningEndpoint, service: str) -> Any:
    return endpoint.boto3_client(service)


def aws_cli(
    endpoint: RunningEndpoint,
    *args: str,
    key: str | None = None,
    secret: str | None = None,
    token: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the aws CLI v1 of the venv as a separate process against the endpoint."""
    extra = {}
    if key and secret:
        extra = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    if token:
        extra["AWS_SESSION_TOKEN"] = token
    return endpoint.aws(
        "--endpoint-url", endpoint.url, "--output", "json", *args, env=extra, cwd=cwd, timeout=60
    )
