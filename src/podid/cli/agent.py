"""`podid agent`: the node agent, a drop-in `eks-pod-identity-agent`.

`podid agent --cluster-name X` and `podid agent server --cluster-name X` run the credential server
with the real agent's flags and defaults; `podid agent init` (alias `initialize`) puts the link-local
addresses on `pod-id-link0`. Our extra flags: `--region` (else `AWS_REGION`), `--request-rate`,
`--request-burst`, `--shutdown-grace`. Without `--endpoint`, EKS Auth is the local podid endpoint
(the state directory's `endpoint.json`, else http://127.0.0.1:4566), never AWS.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from podid.agent.config import DEFAULT_BIND_HOSTS, AgentConfig, configure_logging, parse_go_duration

F = TypeVar("F", bound=Callable[..., Any])


class GoDuration(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_go_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def server_options(func: F) -> F:
    options = [
        click.option("-c", "--cluster-name", default=None, help="Cluster name sent to EKS Auth (required)."),
        click.option("-p", "--port", type=int, default=80, show_default=True, help="Credential server port."),
        click.option(
            "-b",
            "--bind-hosts",
            multiple=True,
            default=DEFAULT_BIND_HOSTS,
            show_default=True,
            help="Host to bind a credential server to (repeatable or comma-separated).",
        ),
        click.option(
            "--probe-port", type=int, default=2703, show_default=True, help="Probe port (127.0.0.1)."
        ),
        click.option("--metrics-address", default="127.0.0.1", show_default=True, help="Metrics address."),
        click.option("--metrics-port", type=int, default=2705, show_default=True, help="Metrics port."),
        click.option(
            "--max-credential-retention-before-renewal",
            "renewal",
            type=GoDuration(),
            default="3h",
            show_default=True,
            help="Longest time before cached credentials are renewed; 0 disables the cache.",
        ),
        click.option(
            "--max-cache-size", type=int, default=2000, show_default=True, help="0 disables the cache."
        ),
        click.option(
            "--max-service-qps", type=int, default=3, show_default=True, help="Background renewal QPS."
        ),
        click.option(
            "--rotate-credentials",
            type=bool,
            default=False,
            is_flag=False,
            flag_value=True,
            show_default=True,
            help="Reload node credentials from the shared credentials file every minute.",
        ),
        click.option(
            "--endpoint", default=None, help="EKS Auth endpoint URL (default: the local podid endpoint)."
        ),
        click.option("--region", default=None, help="Signing region (default: AWS_REGION)."),
        click.option(
            "--request-rate", type=float, default=1000.0, show_default=True, help="Per-listener rps; 0 = off."
        ),
        click.option("--request-burst", type=int, default=500, show_default=True, help="Per-listener burst."),
        click.option(
            "--shutdown-grace", type=GoDuration(), default="35s", show_default=True, help="Drain limit."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _split_hosts(values: tuple[str, ...]) -> tuple[str, ...]:
    hosts: list[str] = []
    for value in values:
        hosts.extend(h.strip() for h in value.split(",") if h.strip())
    return tuple(hosts)


def _resolve_region(region: str | None) -> str:
    found = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not found:
        import botocore.session

        found = botocore.session.Session().get_config_variable("region")
    if not found:
        raise click.UsageError("no region: set AWS_REGION (as the agent's DaemonSet does) or pass --region")
    return str(found)


def _resolve_endpoint(endpoint: str | None) -> str:
    if endpoint:
        return endpoint
    from podid.cli.common import read_endpoint, resolve_state_dir

    return read_endpoint(resolve_state_dir()).url


def _run_server(verbosity: str, kwargs: dict[str, Any]) -> None:
    if not kwargs.get("cluster_name"):
        raise click.UsageError('required flag(s) "cluster-name" not set')
    configure_logging(verbosity)
    config = AgentConfig(
        cluster_name=kwargs["cluster_name"],
        endpoint=_resolve_endpoint(kwargs["endpoint"]),
        region=_resolve_region(kwargs["region"]),
        port=kwargs["port"],
        bind_hosts=_split_hosts(kwargs["bind_hosts"]),
        probe_port=kwargs["probe_port"],
        metrics_address=kwargs["metrics_address"],
        metrics_port=kwargs["metrics_port"],
        renewal=kwargs["renewal"],
        max_cache_size=kwargs["max_cache_size"],
        max_service_qps=kwargs["max_service_qps"],
        rotate_credentials=kwargs["rotate_credentials"],
        request_rate=kwargs["request_rate"],
        request_burst=kwargs["request_burst"],
        shutdown_grace=kwargs["shutdown_grace"],
    )
    from podid.agent.app import run_agent
    from podid.agent.eksauth import NodeCredentials

    try:
        asyncio.run(run_agent(config, NodeCredentials(rotate=config.rotate_credentials)))
    except (OSError, ValueError) as exc:
        click.echo(f"podid agent: {exc}", err=True)
        sys.exit(1)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v",
    "--verbosity",
    type=click.Choice(["panic", "error", "info", "trace"]),
    default="info",
    show_default=True,
)
@server_options
@click.pass_context
def agent(ctx: click.Context, /, verbosity: str, **kwargs: Any) -> None:
    """The node agent (drop-in eks-pod-identity-agent); without a subcommand, runs the server."""
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = verbosity
    if ctx.invoked_subcommand is None:
        _run_server(verbosity, kwargs)


@agent.command("server")
@server_options
@click.pass_context
def server(ctx: click.Context, /, **kwargs: Any) -> None:
    """Run the credential server (the real agent's `server` subcommand)."""
    _run_server(str(ctx.obj.get("verbosity", "info")), kwargs)


def _initialize(ctx: click.Context) -> None:
    from podid.agent.netinit import InitError, LinkInitializer

    configure_logging(str(ctx.obj.get("verbosity", "info")))
    try:
        result = LinkInitializer().initialize()
    except InitError as exc:
        click.echo(f"podid agent init: {exc}", err=True)
        sys.exit(1)
    families = ", ".join(f for f, ok in (("IPv4", result.ipv4), ("IPv6", result.ipv6)) if ok)
    click.echo(f"{result.link} ({result.link_kind}) ready: {families}")


@agent.command("init")
@click.pass_context
def init(ctx: click.Context) -> None:
    """Put 169.254.170.23/32 and fd00:ec2::23/128 on pod-id-link0 (idempotent)."""
    _initialize(ctx)


@agent.command("initialize", hidden=True)
@click.pass_context
def initialize(ctx: click.Context) -> None:
    """The real agent's name for `init`."""
    _initialize(ctx)


@agent.command("version")
def version() -> None:
    """Print the version."""
    from importlib.metadata import version as pkg_version

    click.echo(f"podid agent {pkg_version('podid')}")
