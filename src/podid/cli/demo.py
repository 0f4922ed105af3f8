"""`podid demo` (what `make demo` runs): the walkthrough end to end, Option 1 then Option 2.

A private podid (its own temporary state directory and a free port, so it runs beside a `podid up`
and twice in a row), every step's command and real output, a check of every expected outcome, the
cleanup, and a summary. Exit status 0 only when every expectation held.
"""

from __future__ import annotations

import sys
import time

import click


@click.command()
@click.option("--step", is_flag=True, help="Pause before each step (press Enter to go on).")
@click.option(
    "--option",
    "options",
    type=click.Choice(["1", "2", "both"]),
    default="both",
    show_default=True,
    help="Which way to create the cluster: 1 (eksctl), 2 (CloudFormation) or both.",
)
@click.option(
    "--migration",
    is_flag=True,
    help="Instead: the app on IRSA first, then migrated to Pod Identity (eksctl migrate-to-pod-identity).",
)
def demo(step: bool, options: str, migration: bool) -> None:
    """Run the EKS Pod Identity walkthrough end to end, checking every expected outcome."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from podid.demo.runner import Sandbox, Shell, Transcript, find_examples
    from podid.demo.walkthrough import Walkthrough

    console = Console(highlight=False, soft_wrap=True)

    def wait() -> None:
        console.print(Text("-- press Enter for the next step --", style="dim"), end="")
        sys.stdin.readline()

    try:
        examples = find_examples()
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    began = time.monotonic()
    transcript = Transcript(console, step, wait)
    sandbox = Sandbox(examples)
    try:
        transcript.section("podid demo: Simplifying AWS EKS Pod Identity, step by step")
        transcript.note(
            "Every command below runs for real: `aws` is the aws CLI v1 (standing in for v2), "
            "`podid kubectl` and `podid eksctl` stand in for kubectl and eksctl, against a private podid."
        )
        transcript.begin("Start a private podid (temporary state directory, free port)")
        transcript.note(f"state directory {sandbox.state_dir}, working directory {sandbox.work}")
        transcript.command("podid up --port 0")
        result = sandbox.start()
        transcript.output(result)
        if transcript.expect("podid answers", result.code == 0, result.stderr.strip()[-300:]):
            walk = Walkthrough(sandbox, Shell(sandbox, transcript), transcript)
            if migration:
                from podid.demo.migration import MigrationDemo

                MigrationDemo(sandbox, Shell(sandbox, transcript), transcript).run()
            elif options in ("1", "both"):
                walk.option1()
            if not migration and options in ("2", "both"):
                walk.option2()
    finally:
        transcript.begin("Stop podid and remove its state")
        transcript.command("podid down")
        stopped = sandbox.close()
        if stopped is not None:
            transcript.output(stopped)
            transcript.expect("podid stopped, nothing left", stopped.code == 0, stopped.stderr.strip())
    elapsed = time.monotonic() - began
    checks = transcript.checks
    failed = [c for c in checks.items if not c.ok]
    console.print()
    if failed:
        table = Table(title="Expectations that did not hold", show_lines=False)
        table.add_column("step")
        table.add_column("expected")
        table.add_column("what happened")
        for c in failed:
            table.add_row(c.step, c.expectation, c.detail)
        console.print(table)
    verdict = "every expected outcome held" if checks.all_ok else f"{len(failed)} expectation(s) did not hold"
    style = "bold green" if checks.all_ok else "bold red"
    console.print(Text(f"{len(checks.items)} checks, {verdict}, in {elapsed:.1f} s", style=style))
    sys.exit(0 if checks.all_ok else 1)
