"""`podid demo`'s pieces: checks, table parsing, and honest failure when a piece is missing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from podid.demo.runner import Check, Checks, Result, Transcript, find_examples
from podid.demo.walkthrough import _ready, _running_rows


def test_checks_all_ok_needs_at_least_one_and_all() -> None:
    assert not Checks().all_ok
    assert Checks([Check("s", "e", True)]).all_ok
    assert not Checks([Check("s", "e", True), Check("s", "f", False)]).all_ok


def test_transcript_records_expectations() -> None:
    buffer = io.StringIO()
    t = Transcript(Console(file=buffer, width=200), step_mode=False, wait=lambda: None)
    t.begin("Step 9")
    assert t.expect("it works", True)
    assert not t.expect("it fails", False, "because")
    assert [(c.step, c.expectation, c.ok) for c in t.checks.items] == [
        ("Step 9", "it works", True),
        ("Step 9", "it fails", False),
    ]
    assert "✖ it fails (because)" in buffer.getvalue()


def test_running_rows() -> None:
    table = (
        "NAME                           READY   STATUS    RESTARTS   AGE\n"
        "eks-pod-identity-agent-vkdmm   1/1     Running   0          31m\n"
        "eks-pod-identity-agent-wt6m6   0/1     Running   0          31m\n"
        "eks-pod-identity-agent-zzzzz   0/1     Pending   0          1s\n"
    )
    rows = _running_rows(Result("c", 0, table, "", 0.0), "eks-pod-identity-agent-")
    assert [r[0] for r in rows] == ["eks-pod-identity-agent-vkdmm", "eks-pod-identity-agent-wt6m6"]
    assert not _ready(rows)
    assert _ready(rows[:1])


def test_examples_are_found() -> None:
    assert (find_examples() / "demo-app.yaml").exists()


@pytest.mark.e2e
def test_missing_template_fails_option_2_honestly(tmp_path: Path) -> None:
    """Without examples/eks-pod-identity.yaml, Option 2 reports a failed step and exits 1 (with --step)."""
    examples = tmp_path / "examples"
    examples.mkdir()
    root = find_examples()
    for name in ("cluster.yaml", "demo-app.yaml", "eks-pod-identity-trust-policy.json"):
        (examples / name).write_text((root / name).read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_"))}
    out = subprocess.run(
        [sys.executable, "-m", "podid", "demo", "--option", "2", "--step"],
        input="\n" * 10,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stdout
    assert "✖ examples/eks-pod-identity.yaml exists (the template is missing)" in out.stdout
    assert "1 expectation(s) did not hold" in out.stdout
    # --step paused before each step: the start, Option 2's Step 1 (then it stops), the stop
    assert out.stdout.count("-- press Enter for the next step --") == 3
