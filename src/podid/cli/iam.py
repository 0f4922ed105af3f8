"""`podid iam`: IAM tools; `podid iam simulate` evaluates policy cases with podid's engine.

Start-up matters (a batch of 1,000 cases must finish in well under half a second, start-up
included), so this module imports only click and json; the engine is imported when a command runs.
stdout carries only JSON; errors go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import BinaryIO

import click


@click.group()
def iam() -> None:
    """IAM tools (the policy simulator)."""


def _dump(obj: object) -> str:
    return _ENCODER.encode(obj)


# Built once: json.dumps with non-default arguments builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _open(file: str) -> BinaryIO:
    if file == "-":
        return sys.stdin.buffer
    try:
        return open(file, "rb")  # closed by the caller
    except OSError as err:
        click.echo(f"error: cannot read {file}: {err.strerror}", err=True)
        raise SystemExit(2) from None


@iam.command()
@click.argument("file", required=False, default="-")
@click.option(
    "--batch", is_flag=True, help="Read JSON Lines (one case a line); write one JSON line per case."
)
def simulate(file: str, batch: bool) -> None:
    """Evaluate a policy case from FILE (stdin when absent or `-`) and print the decision as JSON.

    A case: {"request": {"principal", "action", "resource", "resourceAccount", "context"},
    "identityPolicies", "resourcePolicy", "permissionBoundaries", "sessionPolicies",
    "serviceControlPolicies", "resourceControlPolicies"}. A malformed case exits with status 2
    (with --batch, its line is {"error": ...} and the batch goes on).
    """
    from podid.policy.simulate import CaseError, simulate_text

    def one(data: bytes) -> dict[str, object]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CaseError(f"not UTF-8 text: {err.reason} at byte {err.start}") from None
        return simulate_text(text)

    stream = _open(file)
    try:
        if not batch:
            try:
                result = one(stream.read())
            except CaseError as err:
                click.echo(f"error: {err}", err=True)
                raise SystemExit(2) from None
            sys.stdout.write(_dump(result) + "\n")
            return
        # From a pipe, answer each case at once (a driver may wait for it before sending the next);
        # from a file, write in blocks.
        block = 256 if stream.seekable() else 1
        out: list[str] = []
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                out.append(_dump(one(line)))
            except CaseError as err:
                click.echo(f"error: line {lineno}: {err}", err=True)
                out.append(_dump({"error": f"line {lineno}: {err}"}))
            if len(out) >= block:
                sys.stdout.write("\n".join(out) + "\n")
                sys.stdout.flush()
                out.clear()
        if out:
            sys.stdout.write("\n".join(out) + "\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
