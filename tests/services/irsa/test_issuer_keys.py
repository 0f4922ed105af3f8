"""Keys of foreign OIDC issuers: fetched over HTTP (discovery, then jwks_uri), cached, refetched on an
unknown kid (rate-limited), and the errors when the issuer is unreachable or unusable. The "foreign"
issuers are small HTTP servers on 127.0.0.1 that the tests start themselves."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.services.irsa.conftest import ACCOUNT, IrsaWorld, irsa_trust

from podid.kube.issuer import TokenIssuer, generate_signing_key
from podid.services.sts import StsProvider
from podid.services.sts.oidc_keys import IdpUnreachable, IssuerKeys, KeyUnavailable


class FakeIdp:
    """An OIDC issuer on 127.0.0.1: discovery document and JWKS, with swappable keys."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/idp"
        self.issuers = [TokenIssuer(generate_signing_key(), self.url)]
        self.hits: list[str] = []
        self.status = 200
        self.cache_control = ""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.hits.append(self.path)
                if self.path == "/idp/.well-known/openid-configuration":
                    body: dict[str, Any] = idp.issuers[0].discovery_document()
                elif self.path == "/idp/keys":
                    body = {"keys": [k for i in idp.issuers for k in i.jwks()["keys"]]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(idp.status)
                self.send_header("Content-Type", "application/json")
                if idp.cache_control:
                    self.send_header("Cache-Control", idp.cache_control)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def rotate(self) -> TokenIssuer:
        """A new signing key, published beside the old one (as EKS keeps old keys)."""
        fresh = TokenIssuer(generate_signing_key(), self.url)
        self.issuers.insert(0, fresh)
        return fresh

    def token(self, issuer: TokenIssuer | None = None, sa: str = "demo-sa") -> str:
        signer = issuer or self.issuers[0]
        return signer.issue(
            "demo-ns", sa, audience=["sts.amazonaws.com"], duration_s=3600, now=datetime.now(UTC)
        )


@contextmanager
def fake_idp() -> Iterator[FakeIdp]:
    idp = FakeIdp()
    thread = threading.Thread(target=idp.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        idp.server.shutdown()
        idp.server.server_close()
        thread.join(timeout=10)


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_fetch_cache_and_refetch_on_unknown_kid() -> None:
    with fake_idp() as idp:
        ticker = Ticker()
        keys = IssuerKeys(refetch_interval_s=30, monotonic=ticker)
        first = idp.issuers[0]
        assert (await keys.key(idp.url, first.kid))["kid"] == first.kid
        assert idp.hits == ["/idp/.well-known/openid-configuration", "/idp/keys"]
        await keys.key(idp.url, first.kid)
        assert len(idp.hits) == 2  # cached
        rotated = idp.rotate()
        # an unknown kid right after a fetch: no refetch inside the interval (no fetch amplification)
        with pytest.raises(KeyUnavailable):
            await keys.key(idp.url, rotated.kid)
        assert len(idp.hits) == 2
        ticker.now += 31
        assert (await keys.key(idp.url, rotated.kid))["kid"] == rotated.kid
        assert len(idp.hits) == 4
        # the old key stays valid while published
        assert (await keys.key(idp.url, first.kid))["kid"] == first.kid
        assert len(idp.hits) == 4


async def test_cache_control_max_age_bounds_the_cache() -> None:
    with fake_idp() as idp:
        idp.cache_control = "public, max-age=60"
        ticker = Ticker()
        keys = IssuerKeys(monotonic=ticker)
        kid = idp.issuers[0].kid
        await keys.key(idp.url, kid)
        ticker.now += 59
        await keys.key(idp.url, kid)
        assert len(idp.hits) == 2
        ticker.now += 2
        await keys.key(idp.url, kid)
        assert len(idp.hits) == 4


async def test_unreachable_and_unusable_issuers() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(IdpUnreachable):
        await IssuerKeys(timeout_s=2).key(f"http://127.0.0.1:{closed_port}/idp", "kid")
    with fake_idp() as idp:
        idp.status = 503
        with pytest.raises(IdpUnreachable):
            await IssuerKeys().key(idp.url, idp.issuers[0].kid)
        idp.status = 200
        with pytest.raises(KeyUnavailable):
            await IssuerKeys().key(idp.url.replace("/idp", "/nothing-here"), "kid")


async def test_local_issuers_never_fetch() -> None:
    seen: list[str] = []

    def local(issuer: str) -> dict[str, Any] | None:
        seen.append(issuer)
        return (
            {"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]} if "local" in issuer else None
        )

    keys = IssuerKeys(local, timeout_s=1)
    assert (await keys.key("http://127.0.0.1:9/local", "k1"))["kid"] == "k1"
    with pytest.raises(KeyUnavailable):
        await keys.key("http://127.0.0.1:9/local", "k2")
    assert seen == ["http://127.0.0.1:9/local"] * 2


@pytest.mark.e2e
def test_foreign_issuer_end_to_end(world: IrsaWorld) -> None:
    with fake_idp() as idp:
        iam = world.iam()
        arn = iam.create_open_id_connect_provider(Url=idp.url, ClientIDList=["sts.amazonaws.com"])[
            "OpenIDConnectProviderArn"
        ]
        assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{idp.url.removeprefix('http://')}"
        hostpath = idp.url.removeprefix("http://")
        iam.create_role(RoleName="foreign", AssumeRolePolicyDocument=irsa_trust(arn, hostpath))
        role = f"arn:aws:iam::{ACCOUNT}:role/foreign"
        sts = world.unsigned_sts()

        def assume(token: str) -> dict[str, Any]:
            out: dict[str, Any] = sts.assume_role_with_web_identity(
                RoleArn=role, RoleSessionName="sess", WebIdentityToken=token
            )
            return out

        def error(call: Callable[[], Any]) -> dict[str, Any]:
            with pytest.raises(ClientError) as err:
                call()
            out: dict[str, Any] = err.value.response
            return out

        assert assume(idp.token())["Provider"] == arn
        assert error(lambda: assume(idp.token(sa="intruder")))["Error"]["Code"] == "AccessDenied"
        # a key of a different issuer that claims this iss
        stranger = TokenIssuer(generate_signing_key(), idp.url)
        got = error(lambda: assume(idp.token(stranger)))
        assert got["Error"]["Code"] == "InvalidIdentityToken"
        assert got["Error"]["Message"].startswith("Couldn't retrieve verification key")
        # the issuer down: IDPCommunicationError, which botocore retries (3 attempts in all)
        idp.status = 500
        idp.rotate()
        fresh_token = idp.token()
        sts_provider = world.ep.endpoint.services.providers["sts"]
        assert isinstance(sts_provider, StsProvider)
        world.ep.call(lambda: sts_provider.web_identity.keys.forget(idp.url))
        before = len(idp.hits)
        got = error(lambda: assume(fresh_token))
        assert (got["Error"]["Code"], got["ResponseMetadata"]["HTTPStatusCode"]) == (
            "IDPCommunicationError",
            400,
        )
        assert got["ResponseMetadata"]["RetryAttempts"] == 2
        assert len(idp.hits) - before == 3  # one discovery fetch per attempt
        idp.status = 200
        assert assume(fresh_token)["Provider"] == arn
