"""Fixtures for agent tests: a fake clock, the fake EKS Auth, and agents on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from podid.agent.app import build_agent
from podid.agent.config import AgentConfig
from podid.agent.eksauth import EksAuthClient, NodeCredentials
from podid.agent.server import Agent
from podid.clock import FakeClock
from tests.agent.fake_eksauth import NODE_ACCESS_KEY, NODE_SECRET_KEY, FakeEksAuth

StartAgent = Callable[..., Awaitable[Agent]]


@pytest.fixture
def clock() -> FakeClock:
    now = datetime.now(UTC).replace(microsecond=0)
    return FakeClock(now)


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeEksAuth]:
    server = await FakeEksAuth(clock=clock).start()
    try:
        yield server
    finally:
        await server.stop()


def node_credentials() -> NodeCredentials:
    return NodeCredentials.static(NODE_ACCESS_KEY, NODE_SECRET_KEY)


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def start_agent(fake: FakeEksAuth, clock: FakeClock) -> AsyncIterator[StartAgent]:
    started: list[Agent] = []

    async def start(**overrides: Any) -> Agent:
        settings: dict[str, Any] = {
            "cluster_name": "demo",
            "endpoint": fake.url,
            "region": "us-west-2",
            "port": 0,
            "bind_hosts": ("127.0.0.1",),
            "probe_port": 0,
            "metrics_port": 0,
            "shutdown_grace": 5.0,
        }
        client_options = overrides.pop("client_options", {})
        settings.update(overrides)
        config = AgentConfig(**settings)
        creds = node_credentials()
        client = EksAuthClient(
            config.endpoint, config.region, creds, backoff=lambda _: 0.0, sleep=_no_sleep, **client_options
        )
        agent = build_agent(config, creds, clock=clock, client=client)
        await agent.start()
        started.append(agent)
        return agent

    try:
        yield start
    finally:
        for agent in started:
            await agent.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
