"""A real endpoint on 127.0.0.1 with EKS and EKS Auth wired in, for the end-to-end tests.

`podid.gateway.services.build_services` wires IAM and STS; until it wires EKS too, the fixture wraps
it and adds the eks and eks-auth providers and the OIDC routes exactly as `serve` should (this
wrapper steps aside as soon as the gateway provides `eks` itself). Likewise, until the pipeline
applies a provider's `translate_error` hook to errors of earlier stages (EKS Auth answers a `token`
that fails the model's pattern with InvalidTokenException), the fixture wraps the pipeline's error
response so that it does (idempotent once the pipeline does it itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from podid.errors import AwsError
from podid.gateway import services as gateway_services
from podid.gateway.pipeline import Pipeline
from podid.gateway.testing import RunningEndpoint, running_endpoint
from podid.services.eks import EksDomain, EksProvider, oidc_document
from podid.services.eksauth import EksAuthDomain, EksAuthProvider

ACCOUNT = "111122223333"
AWS = str(Path(sys.executable).parent / "aws")


def _oidc_hook(eks: EksDomain) -> Callable[[web.Application], None]:
    async def handler(request: web.Request) -> web.Response:
        found = oidc_document(eks, request.path)
        if found is None:  # pragma: no cover - the route only matches /oidc/
            raise web.HTTPNotFound()
        status, body = found
        return web.json_response(body, status=status)

    def hook(app: web.Application) -> None:
        app.router.add_get("/oidc/{tail:.*}", handler)

    return hook


@contextmanager
def eks_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEndpoint]:
    original = gateway_services.build_services

    def build(endpoint: Any, token_key: bytes) -> Any:
        built = original(endpoint, token_key)
        if "eks" in built.providers:
            return built
        eks = EksDomain(endpoint.store, endpoint.clock, built.iam, lambda: endpoint.url)
        auth = EksAuthDomain(eks, built.sts, built.authorizer.authorize, audit=endpoint.audit.record)
        built.providers["eks"] = EksProvider(eks)
        built.providers["eks-auth"] = EksAuthProvider(auth)
        built.eks = eks
        built.routes.append(_oidc_hook(eks))
        return built

    monkeypatch.setattr(gateway_services, "build_services", build)
    error_response = Pipeline._error_response

    def translated(self: Pipeline, entry: Any, ex: Any, err: AwsError, operation: Any) -> Any:
        hook = getattr(getattr(entry, "provider", None), "translate_error", None)
        if hook is not None:
            err = hook(err)
            ex.error = err
        return error_response(self, entry, ex, err, operation)

    monkeypatch.setattr(Pipeline, "_error_response", translated)
    with running_endpoint(tmp_path / "state", account_id=ACCOUNT) as ep:
        yield ep


def aws_cli(ep: RunningEndpoint, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run the aws CLI v1 against the endpoint; the parsed JSON output (or raise with stderr)."""
    proc = subprocess.run(
        [AWS, *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=ep.env(**(env or {})),
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def aws_cli_error(ep: RunningEndpoint, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [AWS, *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=ep.env(**(env or {})),
        timeout=120,
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
