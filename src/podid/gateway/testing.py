"""Running a real endpoint on 127.0.0.1 in a background thread, for tests and benchmarks.

    with running_endpoint(tmp_path) as ep:
        client = ep.boto3_client("iam")          # admin credentials, explicit endpoint URL
        other = ep.client("s3", key, secret, token)      # someone else's credentials
        proc = ep.aws("iam", "list-roles")       # the venv's aws CLI v1 as a subprocess, as the admin
        ep.call(lambda: ep.endpoint.iam.get_role(...))   # run code on the endpoint's loop thread

The endpoint's state is touched only from its own event loop thread; `call` marshals there.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from podid.clock import Clock
from podid.gateway.endpoint import Endpoint, EndpointConfig

T = TypeVar("T")

AWS_CLI = str(Path(sys.executable).with_name("aws"))
"""The aws CLI v1 installed next to the running interpreter (the venv's)."""


class RunningEndpoint:
    def __init__(self, endpoint: Endpoint, loop: asyncio.AbstractEventLoop) -> None:
        self.endpoint = endpoint
        self.loop = loop
        # One boto3 session for every client: a new session reloads the service model for each
        # client (0.1 s idle, over a second on a loaded CI machine); clients of one session still
        # have their own credentials, configuration and event hooks.
        self._session: Any = None
        self._session_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def admin(self) -> Any:
        return self.endpoint.admin

    def call(self, func: Callable[[], T]) -> T:
        """Run `func` on the endpoint's loop thread and return its result."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(func())
            except BaseException as err:
                fut.set_exception(err)

        self.loop.call_soon_threadsafe(run)
        return fut.result(timeout=30)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for an aws CLI subprocess talking to this endpoint as the administrator."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID=self.admin.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.admin.secret_access_key,
            AWS_DEFAULT_REGION=self.endpoint.region,
            AWS_REGION=self.endpoint.region,
            AWS_CONFIG_FILE=os.environ.get("AWS_CONFIG_FILE", os.devnull),
            AWS_SHARED_CREDENTIALS_FILE=os.environ.get("AWS_SHARED_CREDENTIALS_FILE", os.devnull),
            AWS_EC2_METADATA_DISABLED="true",
        )
        env.update(extra)
        return env

    def boto3_client(self, service: str, **kwargs: Any) -> Any:
        import boto3

        params: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": self.endpoint.region,
            "aws_access_key_id": self.admin.access_key_id,
            "aws_secret_access_key": self.admin.secret_access_key,
        }
        params.update(kwargs)
        with self._session_lock:  # boto3 sessions are not thread-safe; clients are
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session.client(service, **params)

    def client(self, service: str, key: str, secret: str, token: str | None = None, **config: Any) -> Any:
        """A boto3 client with the given credentials; `config` becomes a `botocore.config.Config`."""
        import botocore.config

        return self.boto3_client(
            service,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=botocore.config.Config(**config) if config else None,
        )

    def aws(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run the aws CLI v1 as a separate process with `env(**env)`; never raises on failure."""
        return subprocess.run(
            [AWS_CLI, *args],
            env=self.env(**(env or {})),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextmanager
def running_endpoint(
    state_dir: Path,
    *,
    ephemeral: bool = True,
    account_id: str | None = "111122223333",
    region: str = "us-west-2",
    clock: Clock | None = None,
    runtime: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningEndpoint]:
    config = EndpointConfig(
        state_dir=state_dir,
        host=host,
        port=port,
        ephemeral=ephemeral,
        account_id=account_id,
        region=region,
        runtime=runtime,
    )
    loop = asyncio.new_event_loop()
    ready: Future[Endpoint] = Future()
    stopped = asyncio.Event()

    async def main() -> None:
        try:
            endpoint = Endpoint(config, clock=clock)
            await endpoint.start()
        except BaseException as err:
            ready.set_exception(err)
            return
        ready.set_result(endpoint)
        await stopped.wait()
        await endpoint.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    try:
        endpoint = ready.result(timeout=60)
        yield RunningEndpoint(endpoint, loop)
    finally:
        loop.call_soon_threadsafe(stopped.set)
        thread.join(timeout=30)
        loop.close()
