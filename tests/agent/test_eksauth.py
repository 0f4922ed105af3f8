"""The EKS Auth client against the fake EKS Auth on 127.0.0.1: signing, parsing, errors, retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from podid.agent.eksauth import EksAuthClient, NodeCredentials
from podid.agent.model import CredentialRequest, FetchError, UpstreamError, error_status_and_body
from podid.clock import FakeClock
from tests.agent.conftest import node_credentials
from tests.agent.fake_eksauth import FakeEksAuth
from tests.agent.helpers import make_token
from tests.support.net import free_port


class _Client(EksAuthClient):
    sleeps: list[float]


def _client(url: str, attempt_timeout: float = 1.0) -> _Client:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = _Client(
        url,
        "us-west-2",
        node_credentials(),
        backoff=lambda n: float(n),
        sleep=sleep,
        attempt_timeout=attempt_timeout,
    )
    client.sleeps = sleeps
    return client


async def test_signed_request_and_parsed_credentials(fake: FakeEksAuth, clock: FakeClock) -> None:
    client = _client(fake.url)
    token = make_token(clock.now())
    try:
        creds = await client.get_credentials(CredentialRequest("my-cluster", token))
    finally:
        await client.close()
    assert fake.bad_signatures == 0
    assert fake.tokens == [token]
    assert fake.clusters == ["my-cluster"]
    assert creds.account_id == "111122223333"
    assert creds.access_key_id == "ASIAFAKE000000000001"
    assert creds.association_id == "a-0123456789abcdefg"
    assert creds.expiration.tzinfo is not None


async def test_wrong_node_secret_is_rejected_by_the_reference_signer(
    fake: FakeEksAuth, clock: FakeClock
) -> None:
    client = EksAuthClient(fake.url, "us-west-2", NodeCredentials.static("AKIANODEROLEEXAMPLE1", "wrong"))
    try:
        with pytest.raises(UpstreamError) as info:
            await client.get_credentials(CredentialRequest("c", make_token(clock.now())))
    finally:
        await client.close()
    assert fake.bad_signatures == 1
    assert info.value.code == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("code", "status", "fault", "attempts"),
    [
        ("AccessDeniedException", 400, "client", 1),
        ("InvalidTokenException", 400, "client", 1),
        ("ExpiredTokenException", 400, "client", 1),
        ("InvalidParameterException", 400, "client", 1),
        ("InvalidRequestException", 400, "client", 1),
        ("ResourceNotFoundException", 404, "client", 1),
        ("ThrottlingException", 429, "client", 3),
        ("InternalServerException", 500, "server", 3),
        ("ServiceUnavailableException", 503, "server", 3),
        ("SomethingNew", 502, "unknown", 3),
    ],
)
async def test_error_answers_pass_through_with_retries(
    fake: FakeEksAuth, clock: FakeClock, code: str, status: int, fault: str, attempts: int
) -> None:
    fake.fail(code, status, "the message")
    client = _client(fake.url)
    try:
        with pytest.raises(UpstreamError) as info:
            await client.get_credentials(CredentialRequest("c", make_token(clock.now())))
    finally:
        await client.close()
    assert fake.calls == attempts
    assert client.sleeps == [float(n) for n in range(1, attempts)]
    got_status, body = error_status_and_body(info.value)
    assert got_status == status
    assert body.endswith(f"]: ({code}): the message, fault: {fault}")
    assert body.startswith("[")
    assert len(body.split("]")[0]) == 37  # "[" + the fake's uuid request id


async def test_retry_then_success(fake: FakeEksAuth, clock: FakeClock) -> None:
    fake.fail("InternalServerException", 500, times=2)
    client = _client(fake.url)
    try:
        creds = await client.get_credentials(CredentialRequest("c", make_token(clock.now())))
    finally:
        await client.close()
    assert fake.calls == 3
    assert creds.access_key_id == "ASIAFAKE000000000003"


async def test_connection_refused_is_a_500_fetch_error_after_3_attempts(clock: FakeClock) -> None:
    port = free_port()
    client = _client(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(FetchError) as info:
            await client.get_credentials(CredentialRequest("c", make_token(clock.now())))
    finally:
        await client.close()
    status, body = error_status_and_body(info.value)
    assert status == 500
    assert body.startswith(
        "unable to fetch credentials from EKS Auth: operation error EKS Auth: AssumeRoleForPodIdentity, "
        "exceeded maximum number of attempts, 3, https response error StatusCode: 0, RequestID: , "
        f'request send failed, Post "http://127.0.0.1:{port}/clusters/c/assume-role-for-pod-identity": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


async def test_one_second_timeout_per_attempt(fake: FakeEksAuth) -> None:
    fake.delay = 0.5
    client = _client(fake.url, attempt_timeout=0.2)
    now = datetime.now(UTC)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(FetchError) as info:
            await client.get_credentials(CredentialRequest("c", make_token(now)))
    finally:
        await client.close()
    assert loop.time() - started < 1.5
    assert "context deadline exceeded (Client.Timeout exceeded while awaiting headers)" in info.value.message
    assert fake.calls == 3


async def test_missing_node_credentials_are_a_500(fake: FakeEksAuth, clock: FakeClock) -> None:
    client = EksAuthClient(fake.url, "us-west-2", NodeCredentials())
    with pytest.raises(FetchError, match="no node credentials"):
        await client.get_credentials(CredentialRequest("c", make_token(clock.now())))
    await client.close()
    assert fake.calls == 0


async def test_invalid_success_bodies_are_500s(fake: FakeEksAuth, clock: FakeClock) -> None:
    fake.respond = lambda token: {"subject": {}}
    client = _client(fake.url)
    try:
        with pytest.raises(
            FetchError, match="invalid response from server: credentials or assumed role empty"
        ):
            await client.get_credentials(CredentialRequest("c", make_token(clock.now())))
    finally:
        await client.close()


def test_node_credentials_from_the_standard_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    node = NodeCredentials()
    assert node.load()
    frozen = node.frozen()
    assert frozen is not None
    assert frozen.access_key == "AKIAENVEXAMPLE000001"


def test_rotation_rereads_the_shared_credentials_file() -> None:
    import os
    from pathlib import Path

    path = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    path.write_text(
        "[default]\naws_access_key_id = AKIAFIRST\naws_secret_access_key = s1\naws_session_token = t1\n"
    )
    node = NodeCredentials(rotate=True)
    assert node.reload()
    assert node.frozen() == ("AKIAFIRST", "s1", "t1")
    path.write_text("[default]\naws_access_key_id = AKIASECOND\naws_secret_access_key = s2\n")
    assert node.reload()
    assert node.frozen() == ("AKIASECOND", "s2", None)
    path.write_text("")
    assert not node.reload()
    assert node.frozen() == ("AKIASECOND", "s2", None)  # kept


async def test_rotate_forever_picks_up_a_rewritten_file() -> None:
    import asyncio
    import os
    from pathlib import Path

    from podid.agent.app import rotate_forever

    path = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    await asyncio.to_thread(
        path.write_text, "[default]\naws_access_key_id = AKIAONE\naws_secret_access_key = s1\n"
    )
    node = NodeCredentials(rotate=True)
    assert await asyncio.to_thread(node.reload)
    task = asyncio.create_task(rotate_forever(node, interval=0.01))
    try:
        await asyncio.to_thread(
            path.write_text, "[default]\naws_access_key_id = AKIATWO\naws_secret_access_key = s2\n"
        )
        for _ in range(200):
            frozen = node.frozen()
            if frozen is not None and frozen.access_key == "AKIATWO":
                break
            await asyncio.sleep(0.01)
        assert node.frozen() == ("AKIATWO", "s2", None)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
