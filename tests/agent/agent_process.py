"""`podid agent` as a real subprocess on 127.0.0.1 (for tests and the benchmark)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.agent.fake_eksauth import NODE_ACCESS_KEY, NODE_SECRET_KEY
from tests.support.net import free_port

PODID = str(Path(sys.executable).with_name("podid"))


@dataclass
class AgentProcess:
    process: asyncio.subprocess.Process
    port: int
    probe_port: int
    metrics_port: int
    host: str = "127.0.0.1"
    ready_prefix: Sequence[str] = ()

    @property
    def credentials_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1/credentials"

    async def _ready_inside(self) -> bool:
        """Probe from inside a network namespace (`ready_prefix` is `ip netns exec NS`)."""
        url = f"http://127.0.0.1:{self.probe_port}/readyz"
        code = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=2)"
        proc = await asyncio.create_subprocess_exec(
            *self.ready_prefix,
            sys.executable,
            "-c",
            code,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    async def wait_ready(self, limit: float = 15.0) -> None:
        url = f"http://127.0.0.1:{self.probe_port}/readyz"
        deadline = asyncio.get_running_loop().time() + limit
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"podid agent exited with {self.process.returncode}")
                if self.ready_prefix:
                    if await self._ready_inside():
                        return
                else:
                    try:
                        async with session.get(url) as resp:
                            if resp.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("podid agent did not become ready")
                await asyncio.sleep(0.05)

    async def terminate(self, limit: float = 10.0) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), limit)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return int(self.process.returncode or 0)


async def start_agent_process(
    endpoint: str,
    *,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int | None = None,
    node_env: bool = True,
    log_file: Path | None = None,
    ready_prefix: Sequence[str] = (),
    cluster: str = "demo",
) -> AgentProcess:
    """Start `podid agent` bound to `host`; node credentials are the fake's, via the environment."""
    port = port or free_port(host)
    probe_port, metrics_port = free_port(), free_port()
    child_env = dict(os.environ)
    if node_env:
        child_env.update({"AWS_ACCESS_KEY_ID": NODE_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": NODE_SECRET_KEY})
    child_env["AWS_REGION"] = "us-west-2"
    child_env.update(env or {})
    args = [
        *prefix,
        PODID,
        "agent",
        "--cluster-name",
        cluster,
        "--bind-hosts",
        host,
        "--port",
        str(port),
        "--probe-port",
        str(probe_port),
        "--metrics-port",
        str(metrics_port),
        "--endpoint",
        endpoint,
        *extra_args,
    ]
    out = log_file.open("ab") if log_file is not None else asyncio.subprocess.DEVNULL
    try:
        process = await asyncio.create_subprocess_exec(
            *args, env=child_env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        if not isinstance(out, int):
            out.close()
    agent = AgentProcess(process, port, probe_port, metrics_port, host, ready_prefix)
    try:
        await agent.wait_ready()
    except BaseException:
        await agent.terminate()
        raise
    return agent
