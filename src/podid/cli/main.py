"""The `podid` command: a click group whose subcommands are imported only when used.

Start-up time matters (`podid iam simulate` must start fast), so each subcommand lives in its own
module and is imported lazily. `--state-dir DIR` is accepted anywhere on the command line (before a
`--` separator) and becomes `PODID_STATE_DIR` for every subcommand.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("podid.cli.serve", "serve", "Run the AWS endpoint in the foreground."),
    "env": ("podid.cli.serve", "env", "Print export lines pointing the aws CLI at podid."),
    "up": ("podid.cli.up", "up", "Start podid in the background."),
    "down": ("podid.cli.up", "down", "Stop a background podid."),
    "status": ("podid.cli.up", "status", "Show what runs where, with health."),
    "iam": ("podid.cli.iam", "iam", "IAM tools (the policy simulator)."),
    "token": ("podid.cli.token", "token", "Service-account tokens signed by a cluster's issuer."),
    "agent": ("podid.cli.agent", "agent", "The node agent (drop-in eks-pod-identity-agent)."),
    "webhook": ("podid.cli.webhook", "webhook", "The Pod Identity admission webhook (HTTPS)."),
    "kubectl": ("podid.cli.kubectl", "kubectl", "kubectl for podid's local clusters."),
    "eksctl": ("podid.cli.eksctl", "eksctl", "eksctl for podid's local clusters."),
    "demo": ("podid.cli.demo", "demo", "Run the EKS Pod Identity walkthrough end to end."),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if _module_exists(mod)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _module_exists(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podid")
def cli() -> None:
    """podid: EKS Pod Identity, runnable anywhere."""


def hoist_state_dir(argv: Sequence[str]) -> list[str]:
    """Remove `--state-dir X` / `--state-dir=X` from anywhere before `--`; export it instead."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if arg == "--state-dir" and i + 1 < len(args):
            os.environ["PODID_STATE_DIR"] = args[i + 1]
            i += 2
            continue
        if arg.startswith("--state-dir="):
            os.environ["PODID_STATE_DIR"] = arg.split("=", 1)[1]
            i += 1
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> Any:
    args = hoist_state_dir(sys.argv[1:] if argv is None else argv)
    return cli.main(args=args, prog_name="podid")
