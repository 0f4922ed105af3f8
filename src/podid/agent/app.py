"""Assembling and running one agent: EKS Auth client, cache, listeners, signals.

`build_agent` wires the pieces (in the shape of the real agent: the caching decorator around the EKS
Auth client, the cache off when renewal or size is 0); `run_agent` is what `podid agent` runs: start,
wait for SIGTERM/SIGINT, drain within the grace period, exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from podid.agent.cache import CachingRetriever
from podid.agent.config import AgentConfig
from podid.agent.eksauth import EksAuthClient, NodeCredentials
from podid.agent.metrics import AgentMetrics
from podid.agent.model import CredentialRetriever
from podid.agent.server import Agent
from podid.clock import Clock, SystemClock

log = logging.getLogger("podid.agent")

ROTATION_INTERVAL = 60.0


def build_agent(
    config: AgentConfig,
    node_credentials: NodeCredentials,
    *,
    clock: Clock | None = None,
    client: EksAuthClient | None = None,
) -> Agent:
    """An agent ready to `start()`; `client` may be given (tests tune its backoff)."""
    clock = clock or SystemClock()
    metrics = AgentMetrics()
    if client is None:
        client = EksAuthClient(config.endpoint, config.region, node_credentials, metrics=metrics)
    else:
        client.metrics = metrics
    retriever: CredentialRetriever = client
    cache: CachingRetriever | None = None
    if config.cache_enabled:
        cache = CachingRetriever(
            client,
            clock=clock,
            metrics=metrics,
            renewal=config.renewal,
            max_size=config.max_cache_size,
            refresh_qps=config.max_service_qps,
        )
        retriever = cache
    background: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = ()
    if config.rotate_credentials:
        background = (lambda: rotate_forever(node_credentials),)
    return Agent(
        config,
        retriever,
        clock=clock,
        metrics=metrics,
        cache=cache,
        background=background,
        on_close=(client.close,),
    )


async def rotate_forever(node_credentials: NodeCredentials, interval: float = ROTATION_INTERVAL) -> None:
    """Reload node credentials from the shared credentials file every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(node_credentials.reload):
                log.debug("reloaded node credentials from the shared credentials file")
        except Exception:
            log.exception("reloading node credentials failed; keeping the previous ones")


async def run_agent(config: AgentConfig, node_credentials: NodeCredentials) -> None:
    """Run until SIGTERM or SIGINT, then drain and stop."""
    found = await asyncio.to_thread(node_credentials.reload) if config.rotate_credentials else False
    if not found:  # the standard chain also reads a shared credentials file
        found = await asyncio.to_thread(node_credentials.load)
    if not found:
        log.warning("no node credentials found; EKS Auth calls will fail until some are available")
    agent = build_agent(config, node_credentials)
    await agent.start()
    log.info(
        "agent started",
        extra={
            "cluster-name": config.cluster_name,
            "endpoint": config.endpoint,
            "listeners": " ".join(lst.url for lst in agent.credential_listeners),
        },
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
        log.info("shutting down, draining in-flight requests")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await agent.stop()
    log.info("agent stopped")
