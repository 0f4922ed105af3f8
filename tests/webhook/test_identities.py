"""Identity sources of the standalone webhook: the watched JSON file and the EKS API (via botocore)."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from podid.clock import FakeClock
from podid.webhook.config import IdentityLookupError
from podid.webhook.identities import EksApiIdentities, IdentityFile, parse_identities


def test_file_reload_empty_invalid_and_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "identities.json"
    source = IdentityFile(path)
    assert not source.has_association("ns", "sa")  # missing file: no identities
    path.write_text('{"identities":[{"namespace":"ns","serviceAccount":"sa"}]}')
    assert source.has_association("ns", "sa")
    assert not source.has_association("ns", "other")
    path.write_text('{"identities": [')  # invalid: the previous set is kept
    assert source.has_association("ns", "sa")
    assert "keeping the previous set" in caplog.text
    path.write_text("")  # empty clears
    assert not source.has_association("ns", "sa")
    path.write_text(
        '{"identities":[{"namespace":"a","serviceAccount":"b"},{"namespace":"c","serviceAccount":"d"}]}'
    )
    assert source.has_association("c", "d")
    path.unlink()
    assert not source.has_association("c", "d")


@pytest.mark.parametrize(
    "content",
    [b"[]", b'{"identities": {}}', b'{"identities": [1]}', b'{"identities": [{"namespace": 1}]}', b"\xff"],
)
def test_parse_identities_rejects_other_shapes(content: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_identities(content)


class _FakeEks:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []
        self.fail = False

    def list_pod_identity_associations(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.fail:
            raise ConnectionError("connection refused")
        index = int(kwargs.get("nextToken", "0"))
        return self.pages[index]


def test_eks_source_caches_paginates_and_keeps_last_good_list() -> None:
    pages: list[dict[str, Any]] = [
        {"associations": [{"namespace": "a", "serviceAccount": "x"}], "nextToken": "1"},
        {"associations": [{"namespace": "b", "serviceAccount": "y"}]},
    ]
    client = _FakeEks(pages)
    clock = FakeClock()
    source = EksApiIdentities("c1", client, cache_seconds=2.0, clock=clock)
    assert source.has_association("a", "x")
    assert source.has_association("b", "y")
    assert len(client.calls) == 2  # two pages, then served from the cache
    assert client.calls[1] == {"clusterName": "c1", "nextToken": "1"}
    clock.advance(2.0)
    client.fail = True
    assert source.has_association("b", "y")  # refresh failed: the last good list answers
    assert len(client.calls) == 3


def test_eks_source_without_any_list_raises_lookup_error() -> None:
    client = _FakeEks([])
    client.fail = True
    source = EksApiIdentities("c1", client)
    with pytest.raises(IdentityLookupError, match="ListPodIdentityAssociations for cluster 'c1' failed"):
        source.has_association("a", "x")


class _EksHandler(BaseHTTPRequestHandler):
    """Just enough of EKS's rest-json ListPodIdentityAssociations for botocore to talk to."""

    seen: list[tuple[str, str]] = []  # noqa: RUF012 (per-test class attribute, reset by the fixture)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.seen.append((parts.path, self.headers.get("Authorization", "")))
        if parts.path != "/clusters/demo/pod-identity-associations":
            self._send(404, {"message": "No cluster found for name: other."})
            return
        token = parse_qs(parts.query).get("nextToken", [""])[0]
        item = {
            "clusterName": "demo",
            "associationArn": "arn:aws:eks:us-west-2:111122223333:podidentityassociation/demo/a-1",
            "associationId": "a-1",
        }
        if token == "":
            self._send(
                200,
                {
                    "associations": [{**item, "namespace": "demo-ns", "serviceAccount": "demo-sa"}],
                    "nextToken": "p2",
                },
            )
        else:
            self._send(200, {"associations": [{**item, "namespace": "ops", "serviceAccount": "backup"}]})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status == 404:
            self.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _NoLookupServer(ThreadingHTTPServer):
    def server_bind(self) -> None:  # HTTPServer's own calls getfqdn(): a DNS query
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "eks", int(self.server_address[1])


@pytest.fixture
def eks_server() -> Iterator[str]:
    _EksHandler.seen = []
    server = _NoLookupServer(("127.0.0.1", 0), _EksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_eks_source_through_botocore(eks_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    source = EksApiIdentities.from_endpoint("demo", eks_server, "us-west-2")
    assert source.has_association("demo-ns", "demo-sa")
    assert source.has_association("ops", "backup")
    assert not source.has_association("demo-ns", "other")
    assert [p for p, _ in _EksHandler.seen] == ["/clusters/demo/pod-identity-associations"] * 2
    assert all(
        auth.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/") for _, auth in _EksHandler.seen
    )
    assert "/us-west-2/eks/aws4_request" in _EksHandler.seen[0][1]


def test_eks_source_unknown_cluster_is_a_lookup_error(
    eks_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    source = EksApiIdentities.from_endpoint("other", eks_server, "us-west-2")
    with pytest.raises(IdentityLookupError, match="ResourceNotFoundException"):
        source.has_association("demo-ns", "demo-sa")
