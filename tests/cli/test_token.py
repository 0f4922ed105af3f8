"""`podid token create`: reads the state directory, signs with the cluster's key, fails cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from podid.cli.common import EndpointInfo, write_endpoint
from podid.cli.main import cli
from podid.cli.token import parse_duration
from podid.clock import FakeClock
from podid.services.eks import EksDomain
from podid.store import Store

ACCOUNT = "111122223333"
REGION = "us-west-2"


class _Roles:
    def role_from_arn(self, arn: str) -> object | None:
        return arn


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    (state / "config.json").write_text(
        json.dumps({"account_id": ACCOUNT, "region": REGION, "token_key": "00"})
    )
    write_endpoint(state, EndpointInfo("127.0.0.1", 45678))
    store = Store(state / "podid.db")
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    eks = EksDomain(store, clock, _Roles(), lambda: "http://127.0.0.1:45678")
    for name in ("first", "second"):
        eks.create_cluster(ACCOUNT, REGION, name, role_arn=f"arn:aws:iam::{ACCOUNT}:role/c")
        clock.advance(10)
    store.close()
    return state


def _verify(state: Path, token: str, cluster: str) -> dict[str, object]:
    store = Store(state / "podid.db")
    eks = EksDomain(store, FakeClock(), _Roles(), lambda: "http://127.0.0.1:45678")
    found = eks.cluster_by_name(ACCOUNT, REGION, cluster)
    assert found is not None
    claims = eks.issuer_for(found).verify(token, audience="pods.eks.amazonaws.com", now=datetime.now(UTC))
    store.close()
    return claims


def test_create_token_for_a_pod(state_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "token",
            "create",
            "--cluster",
            "first",
            "--namespace",
            "demo-ns",
            "--service-account",
            "demo-sa",
            "--pod-name",
            "demo-app",
            "--pod-uid",
            "uid-1",
            "--duration",
            "1h",
        ],
        env={"PODID_STATE_DIR": str(state_dir)},
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    claims = _verify(state_dir, token, "first")
    assert claims["sub"] == "system:serviceaccount:demo-ns:demo-sa"
    assert claims["kubernetes.io"] == {
        "namespace": "demo-ns",
        "pod": {"name": "demo-app", "uid": "uid-1"},
        "serviceaccount": {"name": "demo-sa", "uid": claims["kubernetes.io"]["serviceaccount"]["uid"]},  # type: ignore[index]
    }
    assert claims["exp"] - claims["iat"] == 3600  # type: ignore[operator]
    assert str(claims["iss"]).startswith("http://127.0.0.1:45678/oidc/id/")


def test_default_cluster_is_the_newest_and_subprocess_with_state_dir_flag(state_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODID_")}
    out = subprocess.run(
        [sys.executable, "-m", "podid", "token", "create", "--service-account", "sa", "--pod-name", "p",
         "--state-dir", str(state_dir)],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    claims = _verify(state_dir, out.stdout.strip(), "second")
    assert claims["aud"] == ["pods.eks.amazonaws.com"]
    assert claims["exp"] - claims["iat"] == 86400  # type: ignore[operator]


def test_unknown_cluster_exits_1(state_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["token", "create", "--cluster", "nope", "--service-account", "sa"],
        env={"PODID_STATE_DIR": str(state_dir)},
    )
    assert result.exit_code == 1
    assert "no cluster named nope" in result.output


def test_missing_state_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["token", "create", "--service-account", "sa"], env={"PODID_STATE_DIR": str(tmp_path / "none")}
    )
    assert result.exit_code == 1
    assert "start `podid serve` first" in result.output


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("90m", 5400), ("1h30m", 5400), ("3600s", 3600), ("600", 600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5m", "1d", "abc", "-1h"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_duration(text)
