"""Helpers for end-to-end tests against a real `podid serve` process and the aws CLI v1.

`ServeProcess` starts `podid serve --port 0` as a subprocess with its state in a test directory and
waits until the endpoint file written by serve names that process; `aws` runs the venv's aws CLI v1
as a separate process with an explicit endpoint; `cli_refusal` reads the AWS error code from the CLI's
stderr and the HTTP status from its `--debug` log (urllib3 logs every response's status line).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PODID = str(BIN / "podid")
AWS = str(BIN / "aws")
REGION = "us-west-2"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def env(self) -> dict[str, str]:
        out = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            out["AWS_SESSION_TOKEN"] = self.session_token
        return out

    def boto3(self) -> dict[str, Any]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


def base_env(**extra: str) -> dict[str, str]:
    """The test's environment without AWS_*/PODID_* variables (the AWS config files stay isolated)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_", "BOTO_"))}
    env["AWS_CONFIG_FILE"] = os.environ.get("AWS_CONFIG_FILE", os.devnull)
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


def aws(
    url: str,
    creds: Credentials,
    *args: str,
    debug: bool = False,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the aws CLI v1 as a separate process against `url` with `creds`."""
    env = base_env(AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=url, **creds.env())
    env.update(extra_env or {})
    argv = [AWS, "--endpoint-url", url, "--output", "json", *args]
    if debug:
        argv.append("--debug")
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


_CLI_CODE = re.compile(r"An error occurred \(([A-Za-z0-9.]+)\)")
_STATUS_LINE = re.compile(r'"(?:GET|POST|PUT|DELETE|HEAD) [^"]*" (\d{3})')


def cli_refusal(result: subprocess.CompletedProcess[str]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a failed `aws ... --debug` run."""
    assert result.returncode != 0, result.stdout
    codes = _CLI_CODE.findall(result.stderr)
    statuses = _STATUS_LINE.findall(result.stderr)
    assert codes, result.stderr[-2000:]
    assert statuses, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    return codes[-1], int(statuses[-1]), last.split(": ", 1)[-1]


class ServeProcess:
    """`podid serve` in a subprocess, with its state directory and the admin credentials it wrote."""

    def __init__(self, state_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.extra = extra
        self.env = env if env is not None else base_env()
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> ServeProcess:
        endpoint_file = self.state_dir / "endpoint.json"
        log = open(self.state_dir.parent / f"{self.state_dir.name}-serve.log", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PODID, "serve", "--state-dir", str(self.state_dir), "--port", "0", "--no-runtime", *self.extra],
            env=self.env,
            stdout=log,
            stderr=log,
            text=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"podid serve exited with {self.proc.returncode}: {self.log_text()}")
            try:
                info = json.loads(endpoint_file.read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                self.url = f"http://{info['host']}:{info['port']}"
                return self
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"podid serve did not start in {timeout} s: {self.log_text()}")

    def log_text(self) -> str:
        path = self.state_dir.parent / f"{self.state_dir.name}-serve.log"
        return path.read_text() if path.exists() else ""

    @property
    def admin(self) -> Credentials:
        data = json.loads((self.state_dir / "admin.json").read_text())
        return Credentials(data["access_key_id"], data["secret_access_key"])

    @property
    def account_id(self) -> str:
        return str(json.loads((self.state_dir / "admin.json").read_text())["account_id"])

    def client(self, service: str, creds: Credentials | None = None, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            config=Config(retries={"max_attempts": 1}, **config),
            **(creds or self.admin).boto3(),
        )

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()
