"""The agent's listeners over real HTTP on 127.0.0.1, backed by the fake EKS Auth: every §3.3 status."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import aiohttp
import pytest

from podid.agent.server import Listener
from podid.clock import FakeClock
from tests.agent.conftest import StartAgent
from tests.agent.fake_eksauth import FakeEksAuth
from tests.agent.helpers import make_token

GO_TEXT = "text/plain; charset=utf-8"


async def _get(
    http: aiohttp.ClientSession,
    url: str,
    token: str | None = None,
    method: str = "GET",
    host: str | None = None,
) -> tuple[int, bytes, Mapping[str, str]]:
    headers: dict[str, str] = {}
    if token is not None:
        headers["Authorization"] = token
    if host is not None:
        headers["Host"] = host
    async with http.request(method, url, headers=headers) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


def _creds_url(listener: Listener) -> str:
    return listener.url + "/v1/credentials"


async def test_success_body_is_the_real_agents(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, fake: FakeEksAuth
) -> None:
    agent = await start_agent()
    status, body, headers = await _get(
        http, _creds_url(agent.credential_listeners[0]), make_token(clock.now())
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    expiry = clock.now().timestamp() + fake.lifetime
    from datetime import UTC, datetime

    expected_exp = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body == (
        b'{"AccessKeyId":"ASIAFAKE000000000001","SecretAccessKey":"secret-1","Token":"session-token-1",'
        b'"AccountId":"111122223333","Expiration":"' + expected_exp.encode() + b'"}'
    )
    assert fake.bad_signatures == 0
    assert fake.clusters == ["demo"]


async def test_any_method_and_query_ignored(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    agent = await start_agent()
    url = _creds_url(agent.credential_listeners[0])
    token = make_token(clock.now())
    for method in ("GET", "POST", "PUT", "DELETE"):
        status, _, _ = await _get(http, url + "?x=1", token, method=method)
        assert status == 200


@pytest.mark.parametrize("path", ["/", "/v1/credentials/", "/v1/credential", "/metrics"])
async def test_other_paths_are_go_404s(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, path: str
) -> None:
    agent = await start_agent()
    status, body, headers = await _get(
        http, agent.credential_listeners[0].url + path, make_token(clock.now())
    )
    assert (status, body) == (404, b"404 page not found\n")
    assert headers["Content-Type"] == GO_TEXT
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert agent.metrics.real_value("pod_identity_http_response", "404") == 0


async def test_host_check(start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    agent = await start_agent()
    url = _creds_url(agent.credential_listeners[0])
    token = make_token(clock.now())
    status, body, headers = await _get(http, url, token, host="169.254.170.2")
    assert status == 403
    assert body == (
        b"Access Denied. Called agent through invalid address, please use either [127.0.0.1 localhost] "
        b"address not 169.254.170.2\n"
    )
    assert headers["Content-Type"] == GO_TEXT
    assert headers["X-Content-Type-Options"] == "nosniff"
    for host in ("localhost", f"localhost:{agent.credential_listeners[0].port}", "127.0.0.1"):
        status, _, _ = await _get(http, url, token, host=host)
        assert status == 200, host
    assert agent.metrics.real_value("pod_identity_http_response", "403") == 1


async def test_default_bind_hosts_message() -> None:
    from podid.agent.config import AgentConfig

    config = AgentConfig(cluster_name="c", endpoint="http://127.0.0.1:1", region="us-west-2")
    assert config.allowed_hosts == ("169.254.170.23", "fd00:ec2::23")


@pytest.mark.parametrize(
    ("token_kind", "body"),
    [
        ("empty", b"Service account token cannot be empty\n"),
        (
            "bearer",
            b"Service account token cannot be parsed: token is malformed: could not base64 decode header: "
            b"illegal base64 data at input byte 6\n",
        ),
        (
            "garbage",
            b"Service account token cannot be parsed: token is malformed: "
            b"token contains an invalid number of segments\n",
        ),
        ("expired", b"Service account token failed basic claim validations: token is expired\n"),
        ("future", b"Service account token failed basic claim validations: token is not valid yet\n"),
    ],
)
async def test_token_validation_400s(
    start_agent: StartAgent,
    http: aiohttp.ClientSession,
    clock: FakeClock,
    fake: FakeEksAuth,
    token_kind: str,
    body: bytes,
) -> None:
    agent = await start_agent()
    now = clock.now()
    tokens = {
        "empty": "",
        "bearer": "Bearer " + make_token(now),
        "garbage": "not-a-jwt",
        "expired": make_token(now, lifetime=-10),
        "future": make_token(now, not_before=now.timestamp() + 600),
    }
    status, got, headers = await _get(http, _creds_url(agent.credential_listeners[0]), tokens[token_kind])
    assert (status, got) == (400, body)
    assert headers["Content-Type"] == GO_TEXT
    assert fake.calls == 0
    assert agent.metrics.real_value("pod_identity_http_response", "400") == 1


@pytest.mark.parametrize(
    ("code", "status", "fault"),
    [
        ("AccessDeniedException", 400, "client"),
        ("InvalidTokenException", 400, "client"),
        ("ExpiredTokenException", 400, "client"),
        ("InvalidParameterException", 400, "client"),
        ("InvalidRequestException", 400, "client"),
        ("ResourceNotFoundException", 404, "client"),
        ("ThrottlingException", 429, "client"),
        ("InternalServerException", 500, "server"),
        ("ServiceUnavailableException", 503, "server"),
    ],
)
async def test_upstream_errors_pass_through(
    start_agent: StartAgent,
    http: aiohttp.ClientSession,
    clock: FakeClock,
    fake: FakeEksAuth,
    code: str,
    status: int,
    fault: str,
) -> None:
    agent = await start_agent()
    fake.fail(code, status, "Explained by EKS Auth.")
    got_status, body, headers = await _get(
        http, _creds_url(agent.credential_listeners[0]), make_token(clock.now())
    )
    assert got_status == status
    text = body.decode()
    assert text.startswith("[")
    assert text.endswith(f"]: ({code}): Explained by EKS Auth., fault: {fault}\n")
    assert headers["Content-Type"] == GO_TEXT
    assert agent.metrics.real_value("pod_identity_http_response", str(status)) == 1


async def test_connection_failure_is_a_500(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, fake: FakeEksAuth
) -> None:
    agent = await start_agent()
    await fake.stop()
    status, body, _ = await _get(http, _creds_url(agent.credential_listeners[0]), make_token(clock.now()))
    assert status == 500
    assert body.startswith(
        b"error getting credentials to cache: unable to fetch credentials from EKS Auth: "
        b"operation error EKS Auth: AssumeRoleForPodIdentity, exceeded maximum number of attempts, 3, "
        b"https response error StatusCode: 0"
    )
    assert body.endswith(b"connect: connection refused\n")


async def test_rate_limit_429_per_listener(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    agent = await start_agent(request_rate=0.001, request_burst=3)
    url = _creds_url(agent.credential_listeners[0])
    token = make_token(clock.now())
    statuses = [(await _get(http, url, token))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, body, headers = await _get(http, url, token)
    assert (status, body) == (429, b"Too Many Requests\n")
    assert headers["Content-Type"] == GO_TEXT
    assert agent.metrics.real_value("pod_identity_http_response", "429") == 0


async def test_cache_disabled_calls_upstream_each_time(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, fake: FakeEksAuth
) -> None:
    agent = await start_agent(renewal=0.0)
    assert agent.cache is None
    token = make_token(clock.now())
    for _ in range(3):
        status, _, _ = await _get(http, _creds_url(agent.credential_listeners[0]), token)
        assert status == 200
    assert fake.calls == 3


async def test_probes_and_metrics(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    agent = await start_agent()
    assert agent.probe_listener is not None
    assert agent.metrics_listener is not None
    for listener in (agent.probe_listener, agent.metrics_listener):
        for path in ("/healthz", "/readyz"):
            status, body, _ = await _get(http, listener.url + path)
            assert (status, body) == (200, b"")
    await _get(http, _creds_url(agent.credential_listeners[0]), make_token(clock.now()))
    status, body, headers = await _get(http, agent.metrics_listener.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert '# TYPE pod_identity_http_response counter\npod_identity_http_response{code="200"} 1\n' in text
    assert 'pod_identity_cache_state{state="miss"} 1\n' in text
    assert "podid_agent_cache_entries 1.0\n" in text
    assert "podid_agent_upstream_request_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text
    status, _, _ = await _get(http, agent.probe_listener.url + "/metrics")
    assert status == 404


async def test_probe_fails_when_a_credential_listener_is_gone(
    start_agent: StartAgent, http: aiohttp.ClientSession
) -> None:
    agent = await start_agent()
    assert agent.probe_listener is not None
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    agent.credential_listeners.append(Listener("credentials", "127.0.0.1", dead_port))
    status, body, _ = await _get(http, agent.probe_listener.url + "/healthz")
    assert (status, body) == (500, b"Internal Server Error occurred")


async def test_evict_hook(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, fake: FakeEksAuth
) -> None:
    agent = await start_agent()
    assert agent.probe_listener is not None
    url = _creds_url(agent.credential_listeners[0])
    token = make_token(clock.now(), pod_uid="0b7a7e39-5bcc-4c1a-9d3e-1f2a3b4c5d6e")
    await _get(http, url, token)
    await _get(http, url, token)
    assert fake.calls == 1
    evict = agent.probe_listener.url + "/podid/v1/evict?pod-uid=0b7a7e39-5bcc-4c1a-9d3e-1f2a3b4c5d6e"
    status, body, _ = await _get(http, evict, method="POST")
    assert (status, json.loads(body)) == (200, {"evicted": 1})
    await _get(http, url, token)
    assert fake.calls == 2
    status, _, _ = await _get(http, evict, method="GET")
    assert status == 405
    status, body, _ = await _get(http, agent.probe_listener.url + "/podid/v1/evict", method="POST")
    assert (status, body) == (400, b"the pod-uid query parameter is required\n")


async def test_eks_auth_outage(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, fake: FakeEksAuth
) -> None:
    """Cached credentials are served until 15 s before expiry, then 500s, then recovery by itself."""
    fake.lifetime = 120
    agent = await start_agent()
    url = _creds_url(agent.credential_listeners[0])
    token = make_token(clock.now())
    status, first, _ = await _get(http, url, token)
    assert status == 200
    await fake.stop()
    clock.advance(100)  # 20 s left
    status, body, _ = await _get(http, url, token)
    assert (status, body) == (200, first)
    assert agent.cache is not None
    await agent.cache.refresh_or_evict()  # due? no: refresh at expiry; nothing happens
    clock.advance(5)  # 15 s left: no longer served
    status, body, _ = await _get(http, url, token)
    assert status == 500
    assert b"connection refused" in body
    await fake.start()  # same port
    status, body, _ = await _get(http, url, token)
    assert status == 200
    assert body != first


async def test_unbindable_ipv6_host_is_skipped_with_one_warning(
    start_agent: StartAgent, http: aiohttp.ClientSession, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="podid.agent")
    logging.getLogger("podid.agent").propagate = True
    agent = await start_agent(bind_hosts=("127.0.0.1", "[fd00:ec2::23]"))
    assert [lst.host for lst in agent.credential_listeners] == ["127.0.0.1"]
    warnings = [r for r in caplog.records if "IPv6 listener unavailable" in r.getMessage()]
    assert len(warnings) == 1
    status, _, _ = await _get(http, _creds_url(agent.credential_listeners[0]), make_token(clock.now()))
    assert status == 200


async def test_unbindable_ipv4_host_is_fatal(start_agent: StartAgent) -> None:
    with pytest.raises(OSError, match="assign requested address"):
        await start_agent(bind_hosts=("192.0.2.1",))


async def test_storm_of_distinct_tokens_is_served(
    start_agent: StartAgent, clock: FakeClock, fake: FakeEksAuth
) -> None:
    """300 pods start at once: every one answered 200, one EKS Auth call each (32 on the wire at most)."""
    import asyncio

    agent = await start_agent(request_rate=0.0)
    url = _creds_url(agent.credential_listeners[0])
    tokens = [make_token(clock.now(), pod_uid=f"pod-{i}") for i in range(300)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        statuses = await asyncio.gather(*(_get(session, url, t) for t in tokens))
    assert [s for s, _, _ in statuses if s != 200] == []
    assert fake.calls == 300
    assert len(set(fake.tokens)) == 300
