"""The machinery of `podid demo`: a private podid, a shell for the guide's commands, checks, a transcript.

`Sandbox` owns a temporary directory holding the state directory, the walkthrough's files (the
working directory of every command, so `file://eks-pod-identity-trust-policy.json` resolves as in
the guide) and empty AWS config files, and a `podid up` on a free port; `close()` runs `podid
down` and removes the directory. `Shell.run(command)` runs one command line with `/bin/sh` as a
user would type it: `aws` is the aws CLI v1 of this Python environment, `podid` this podid, and
the environment holds the endpoint, the administrator's credentials and the guide's variables.
`Checks` records every expected outcome; the demo's exit status is 0 only if all held.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

EXAMPLE_FILES = (
    "cluster.yaml",
    "demo-app.yaml",
    "eks-pod-identity-trust-policy.json",
    "eks-pod-identity.yaml",
)


def find_examples() -> Path:
    """The `examples/` directory: beside the current directory, else in the source tree of podid."""
    candidates = [Path.cwd() / "examples", Path(__file__).resolve().parents[3] / "examples"]
    for candidate in candidates:
        if (candidate / "cluster.yaml").exists():
            return candidate
    raise FileNotFoundError(
        "the walkthrough's files (examples/cluster.yaml, ...) were not found: run `podid demo` from a "
        "podid checkout (`make demo`)"
    )


@dataclass
class Result:
    command: str
    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Check:
    step: str
    expectation: str
    ok: bool
    detail: str = ""


@dataclass
class Checks:
    items: list[Check] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        return bool(self.items) and all(c.ok for c in self.items)


class Transcript:
    """What the person running the demo sees (rich on a terminal, plain text otherwise)."""

    def __init__(self, console: Console, step_mode: bool, wait: Callable[[], None]) -> None:
        self.console = console
        self.step_mode = step_mode
        self.wait = wait
        self.checks = Checks()
        self.step = ""

    def section(self, title: str) -> None:
        self.console.print()
        self.console.print(Rule(Text(title, style="bold magenta")))

    def begin(self, step: str, note: str = "") -> None:
        self.step = step
        if self.step_mode:
            self.wait()
        self.console.print()
        self.console.print(Text(step, style="bold cyan"))
        if note:
            self.console.print(Text(note, style="dim"))

    def command(self, shown: str) -> None:
        self.console.print(Text("$ ", style="bold green") + Text(shown, style="bold"))

    def output(self, result: Result) -> None:
        for stream, style in ((result.stdout, ""), (result.stderr, "yellow")):
            text = stream.rstrip("\n")
            if text:
                self.console.print(Text(text, style=style), soft_wrap=True, highlight=False)

    def note(self, text: str) -> None:
        self.console.print(Text(text, style="dim"))

    def expect(self, expectation: str, ok: bool, detail: str = "") -> bool:
        self.checks.items.append(Check(self.step, expectation, ok, detail))
        mark = Text("  ✔ ", style="bold green") if ok else Text("  ✖ ", style="bold red")
        line = mark + Text(expectation)
        if detail and not ok:
            line += Text(f" ({detail})", style="red")
        self.console.print(line)
        return ok


class Sandbox:
    """A private podid for the demo: temporary directory, state, free port; removed at the end."""

    def __init__(self, examples: Path, region: str = "us-west-2") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="podid-demo-"))
        self.state_dir = self.root / "state"
        self.work = self.root / "work"
        self.work.mkdir()
        self.region = region
        for name in EXAMPLE_FILES:
            if (examples / name).exists():
                shutil.copy(examples / name, self.work / name)
        (self.root / "aws-config").write_text("")
        (self.root / "aws-credentials").write_text("")
        self.bin = Path(sys.executable).parent
        self.env: dict[str, str] = {}
        self.started = False

    def podid_command(self) -> list[str]:
        return [sys.executable, "-m", "podid"]

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_", "KUBECONFIG"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["PODID_STATE_DIR"] = str(self.state_dir)
        env["AWS_CONFIG_FILE"] = str(self.root / "aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.root / "aws-credentials")
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_PAGER"] = ""
        return env

    def start(self) -> Result:
        """`podid up` on a free port; then the aws CLI's environment points at it."""
        began = time.monotonic()
        proc = subprocess.run(
            [*self.podid_command(), "up", "--port", "0", "--region", self.region],
            capture_output=True,
            text=True,
            env=self.base_env(),
            timeout=120,
            check=False,
        )
        result = Result("podid up", proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began)
        if proc.returncode == 0:
            self.started = True
            admin = json.loads((self.state_dir / "admin.json").read_text())
            endpoint = json.loads((self.state_dir / "endpoint.json").read_text())
            self.env = self.base_env()
            self.env.update(
                AWS_ENDPOINT_URL=f"http://{endpoint['host']}:{endpoint['port']}",
                AWS_ACCESS_KEY_ID=admin["access_key_id"],
                AWS_SECRET_ACCESS_KEY=admin["secret_access_key"],
                AWS_DEFAULT_REGION=self.region,
                AWS_REGION=self.region,
            )
            self.account_id = str(admin["account_id"])
        return result

    def client(self, service: str) -> Any:
        """A botocore client for the demo's own checks (never for the guide's commands)."""
        import botocore.session

        return botocore.session.Session().create_client(
            service,
            region_name=self.region,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def leftovers(self) -> str:
        """Clusters and roles that still exist (empty when a cleanup left nothing)."""
        clusters = self.client("eks").list_clusters().get("clusters") or []
        roles = [r["RoleName"] for r in self.client("iam").list_roles().get("Roles") or []]
        found = [f"cluster {c}" for c in clusters] + [f"role {r}" for r in roles]
        return ", ".join(found)

    def close(self) -> Result | None:
        result = None
        if self.started:
            began = time.monotonic()
            proc = subprocess.run(
                [*self.podid_command(), "down"],
                capture_output=True,
                text=True,
                env=self.base_env(),
                timeout=120,
                check=False,
            )
            result = Result("podid down", proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began)
        shutil.rmtree(self.root, ignore_errors=True)
        return result


class Shell:
    """Runs the guide's command lines with /bin/sh in the sandbox's working directory."""

    def __init__(self, sandbox: Sandbox, transcript: Transcript) -> None:
        self.sandbox = sandbox
        self.t = transcript
        self.vars: dict[str, str] = {}

    def run(
        self, command: str, shown: str | None = None, quiet: bool = False, timeout: float = 120
    ) -> Result:
        """Run `command`; print `shown` (default: the command) and the output unless `quiet`."""
        if not quiet:
            self.t.command(shown or command)
        env = dict(self.sandbox.env)
        env.update(self.vars)
        began = time.monotonic()
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", command],
                capture_output=True,
                text=True,
                env=env,
                cwd=self.sandbox.work,
                timeout=timeout,
                check=False,
            )
            result = Result(command, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began)
        except subprocess.TimeoutExpired:
            result = Result(command, 124, "", f"timed out after {timeout:g}s", time.monotonic() - began)
        if not quiet:
            self.t.output(result)
        return result

    def typed(self, *lines: str, quiet: bool = False, timeout: float = 120) -> Result:
        """A command as the guide types it, one argument group per line (joined with `\\`)."""
        return self.run(" ".join(lines), " \\\n    ".join(lines), quiet=quiet, timeout=timeout)

    def poll(self, command: str, ready: Callable[[Result], bool], timeout: float = 30) -> Result:
        """Run `command` quietly until `ready(result)`; the last result either way."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.run(command, quiet=True)
            if ready(result) or time.monotonic() >= deadline:
                return result
            time.sleep(0.25)
