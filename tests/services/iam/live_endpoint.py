"""A real podid endpoint on 127.0.0.1 (ephemeral port, in-memory store) for IAM/STS end-to-end tests.

The endpoint's event loop runs in a background thread so that synchronous clients (boto3, the aws
CLI as a subprocess) can talk to it from the test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from podid.gateway.endpoint import Endpoint, EndpointConfig

ACCOUNT = "111122223333"
REGION = "us-west-2"


@contextmanager
def running_endpoint(state_dir: Path) -> Iterator[Endpoint]:
    endpoint = Endpoint(
        EndpointConfig(state_dir=state_dir, port=0, ephemeral=True, runtime=False, account_id=ACCOUNT)
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(endpoint.start())
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="podid-endpoint", daemon=True)
    thread.start()
    started.wait(30)
    if errors:
        raise errors[0]
    try:
        yield endpoint
    finally:
        asyncio.run_coroutine_threadsafe(endpoint.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def client(endpoint: Endpoint, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint.url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def admin_client(endpoint: Endpoint, service: str) -> Any:
    return client(endpoint, service, endpoint.admin.access_key_id, endpoint.admin.secret_access_key)


def aws_cli(
    endpoint: Endpoint,
    *args: str,
    key: str | None = None,
    secret: str | None = None,
    token: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the aws CLI v1 of the venv as a separate process against the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key or endpoint.admin.access_key_id,
        AWS_SECRET_ACCESS_KEY=secret or endpoint.admin.secret_access_key,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.environ.get("AWS_CONFIG_FILE", "/dev/null"),
        AWS_SHARED_CREDENTIALS_FILE=os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    if token:
        env["AWS_SESSION_TOKEN"] = token
    aws = str(Path(sys.executable).parent / "aws")
    return subprocess.run(
        [aws, "--endpoint-url", endpoint.url, "--output", "json", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
