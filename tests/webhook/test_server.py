"""The HTTPS transport, through real TLS on 127.0.0.1: /mutate, /healthz, 415, decode errors, and the CLI."""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from podid.webhook.config import WebhookConfig
from podid.webhook.identities import IdentityFile
from podid.webhook.server import WebhookServer, make_app, tls_context
from tests.support.net import free_port
from tests.webhook.helpers import LowRandom, apply_and_validate, load_case
from tests.webhook.test_identities import _EksHandler, _NoLookupServer
from tests.webhook.tls import write_self_signed


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


def _client_ssl(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    return context


@pytest.fixture
async def running(
    tmp_path: Path, certs: tuple[Path, Path]
) -> AsyncIterator[tuple[str, Path, ssl.SSLContext]]:
    cert, key = certs
    identities_path = tmp_path / "identities.json"
    identities_path.write_text(
        json.dumps({"identities": [{"namespace": "demo-ns", "serviceAccount": "demo-sa"}]})
    )
    app = make_app(WebhookConfig(region="us-west-2"), IdentityFile(identities_path), rng=LowRandom())
    server = WebhookServer(app, tls_context(cert, key), "127.0.0.1", 0)
    port = await server.start()
    try:
        yield f"https://127.0.0.1:{port}", identities_path, _client_ssl(cert)
    finally:
        await server.stop()


async def _post(url: str, context: ssl.SSLContext, body: bytes, content_type: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": content_type}, ssl=context) as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_mutate_over_tls_matches_the_literal_case(running: tuple[str, Path, ssl.SSLContext]) -> None:
    base, _, context = running
    case = load_case("demo_app_pod_identity")
    status, ctype, text = await _post(
        base + "/mutate", context, json.dumps(case["review"]).encode(), "application/json"
    )
    assert status == 200
    assert ctype.startswith("application/json")
    answer = json.loads(text)
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == case["review"]["request"]["uid"]
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    assert patch == case["expected"]["patch"]
    apply_and_validate(case["review"]["request"]["object"], patch)


async def test_identities_file_change_is_seen_by_the_next_review(
    running: tuple[str, Path, ssl.SSLContext],
) -> None:
    base, identities_path, context = running
    body = json.dumps(load_case("demo_app_pod_identity")["review"]).encode()
    identities_path.write_text(
        json.dumps({"identities": []}) + " "
    )  # size differs: a change even within one tick
    _, _, text = await _post(base + "/mutate", context, body, "application/json")
    assert json.loads(text)["response"] == {"uid": "3b9f1d6e-5a0c-4b8e-9d61-0f6a2c4e7b11", "allowed": True}
    identities_path.write_text(
        json.dumps({"identities": [{"namespace": "demo-ns", "serviceAccount": "demo-sa"}]})
    )
    _, _, text = await _post(base + "/mutate", context, body, "application/json")
    assert "patch" in json.loads(text)["response"]


async def test_wrong_content_type_is_415_with_the_real_text(
    running: tuple[str, Path, ssl.SSLContext],
) -> None:
    base, _, context = running
    for content_type in ("text/plain", "application/json; charset=utf-8"):
        status, ctype, text = await _post(base + "/mutate", context, b"{}", content_type)
        assert status == 415
        assert ctype.startswith("text/plain")
        assert text == "Invalid Content-Type, expected `application/json`\n"


async def test_undecodable_body_gets_an_admission_response(running: tuple[str, Path, ssl.SSLContext]) -> None:
    base, _, context = running
    status, _, text = await _post(base + "/mutate", context, b"{not json", "application/json")
    assert status == 200
    response = json.loads(text)["response"]
    assert response["allowed"] is False
    assert "couldn't decode the AdmissionReview" in response["status"]["message"]


async def test_healthz(running: tuple[str, Path, ssl.SSLContext]) -> None:
    base, _, context = running
    async with aiohttp.ClientSession() as session, session.get(base + "/healthz", ssl=context) as resp:
        assert resp.status == 200
        assert await resp.text() == "ok"


async def test_plain_http_is_refused(running: tuple[str, Path, ssl.SSLContext]) -> None:
    base, _, _ = running
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(base.replace("https", "http") + "/healthz") as resp:
                await resp.read()


def _https(url: str, cert: Path, body: bytes | None = None) -> tuple[int, bytes]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, context=_client_ssl(cert), timeout=5)
    try:
        if body is None:
            conn.request("GET", parts.path)
        else:
            conn.request("POST", parts.path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_cli_serves_and_stops_on_sigterm(tmp_path: Path, certs: tuple[Path, Path]) -> None:
    cert, key = certs
    identities_path = tmp_path / "identities.json"
    identities_path.write_text(
        json.dumps({"identities": [{"namespace": "team-a", "serviceAccount": "reader"}]})
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "podid", "webhook", "--tls-cert", str(cert), "--tls-key", str(key),
         "--port", str(port), "--watch-container-credentials-config", str(identities_path),
         "--aws-default-region", "us-west-2"],
        env=env,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, text = _https(f"https://127.0.0.1:{port}/healthz", cert)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                assert time.monotonic() < deadline, "webhook did not start"
                time.sleep(0.1)
        assert (status, text) == (200, b"ok")
        review: dict[str, Any] = load_case("existing_env")["review"]
        status, raw = _https(f"https://127.0.0.1:{port}/mutate", cert, json.dumps(review).encode())
        assert status == 200
        response = json.loads(raw)["response"]
        patch = json.loads(base64.b64decode(response["patch"]))
        volume = patch[1]["value"][0]
        assert volume["name"] == "eks-pod-identity-token"
        assert 79200 <= volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] <= 86400
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_cli_with_the_eks_api_source(tmp_path: Path, certs: tuple[Path, Path]) -> None:
    """`--cluster-name --endpoint`: associations come from ListPodIdentityAssociations over botocore."""
    cert, key = certs
    eks = _NoLookupServer(("127.0.0.1", 0), _EksHandler)
    _EksHandler.seen = []
    threading.Thread(target=eks.serve_forever, daemon=True).start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_CONFIG_FILE=os.environ["AWS_CONFIG_FILE"],
        AWS_SHARED_CREDENTIALS_FILE=os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        AWS_EC2_METADATA_DISABLED="true",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "podid", "webhook", "--tls-cert", str(cert), "--tls-key", str(key),
         "--port", str(port), "--cluster-name", "demo", "--endpoint", f"http://127.0.0.1:{eks.server_address[1]}",
         "--region", "us-west-2", "--sts-regional-endpoint=false"],
        env=env,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_healthy(proc, port, cert)
        review: dict[str, Any] = load_case("demo_app_pod_identity")["review"]
        status, raw = _https(f"https://127.0.0.1:{port}/mutate", cert, json.dumps(review).encode())
        assert status == 200
        patch = json.loads(base64.b64decode(json.loads(raw)["response"]["patch"]))
        env_names = [e["name"] for e in patch[2]["value"][0]["env"]]
        assert env_names == ["AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
        assert _EksHandler.seen[0][0] == "/clusters/demo/pod-identity-associations"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        eks.shutdown()
        eks.server_close()


def test_cli_needs_exactly_one_identity_source(certs: tuple[Path, Path]) -> None:
    cert, key = certs
    proc = subprocess.run(
        [sys.executable, "-m", "podid", "webhook", "--tls-cert", str(cert), "--tls-key", str(key)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "give exactly one of --watch-container-credentials-config FILE or --cluster-name C" in proc.stderr


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, cert: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            assert _https(f"https://127.0.0.1:{port}/healthz", cert) == (200, b"ok")
            return
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "webhook did not start"
            time.sleep(0.1)
