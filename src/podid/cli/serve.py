"""`podid serve` (the endpoint in the foreground) and `podid env` (export lines for the aws CLI)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import shlex
import signal
import sys
from pathlib import Path
from typing import IO

import click

from podid.cli.common import DEFAULT_HOST, DEFAULT_PORT, read_endpoint, resolve_state_dir

LOCK_FILE = "serve.lock"


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--ephemeral", is_flag=True, help="Keep all state in memory; nothing survives a restart.")
@click.option("--account-id", default=None, help="Account id of a new state directory (default: random).")
@click.option("--region", default="us-west-2", show_default=True, help="Default region (for `podid env`).")
@click.option("--no-runtime", is_flag=True, help="Do not run the local cluster runtime.")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def serve(
    host: str, port: int, ephemeral: bool, account_id: str | None, region: str, no_runtime: bool, verbose: int
) -> None:
    """Run the AWS endpoint (IAM, STS, EKS, EKS Auth, S3, CloudFormation) until SIGTERM or Ctrl-C.

    State lives in --state-dir (default: the per-user data directory).
    """
    from podid.gateway.endpoint import EndpointConfig
    from podid.wire.sigv4 import valid_regions

    if region not in valid_regions():
        # clients would sign every request for it and be refused ("scoped to a valid region")
        raise click.BadParameter(f"{region!r} is not an AWS region name", param_hint="'--region'")
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if host == "0.0.0.0":
        click.echo("warning: listening on every interface, as asked (--host 0.0.0.0)", err=True)
    state_dir = resolve_state_dir()
    config = EndpointConfig(
        state_dir=state_dir,
        host=host,
        port=port,
        ephemeral=ephemeral,
        account_id=account_id,
        region=region,
        runtime=not no_runtime,
    )
    lock = _lock_state_dir(state_dir)
    try:
        asyncio.run(_serve(config))
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    except OSError as err:
        if err.filename:
            raise click.ClickException(f"cannot use {err.filename}: {err.strerror or err}") from err
        raise click.ClickException(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    finally:
        lock.close()


def _lock_state_dir(state_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the state directory for as long as this process serves it.

    Two endpoints on one state directory would each keep their own in-memory mirror of the store and
    overwrite each other's endpoint file; the second one is refused with a clear error instead.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(state_dir / LOCK_FILE, "a")  # noqa: SIM115 (held until the process ends)
    except OSError as err:
        raise click.ClickException(
            f"cannot use the state directory {state_dir}: {err.strerror or err}"
        ) from err
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        info = read_endpoint(state_dir)
        raise click.ClickException(
            f"another podid is serving {state_dir} (pid {info.pid}, {info.url}): "
            "stop it first (`podid down`, or SIGTERM), or use another --state-dir"
        ) from None
    return handle


async def _serve(config: object) -> None:
    from podid.gateway.endpoint import Endpoint, EndpointConfig

    assert isinstance(config, EndpointConfig)
    endpoint = Endpoint(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await endpoint.start()
    click.echo(
        f"podid serving on {endpoint.url} (account {endpoint.account_id}, state {config.state_dir})", err=True
    )
    try:
        await stop.wait()
    finally:
        await endpoint.stop()


@click.command()
@click.option("--host", default=None, help="Override the endpoint host.")
@click.option("--port", default=None, type=int, help="Override the endpoint port.")
@click.option("--aliases", is_flag=True, help="Also print kubectl/eksctl aliases.")
def env(host: str | None, port: int | None, aliases: bool) -> None:
    """Print `export` lines so that `eval "$(podid env)"` points the aws CLI at podid as its administrator."""
    # The state files are read directly: importing podid.gateway (aiohttp, botocore's loaders) would
    # make `eval "$(podid env)"` take most of a second. Names as in podid.gateway.endpoint.
    import json

    state_dir = resolve_state_dir()
    try:
        admin = json.loads((state_dir / "admin.json").read_text())
        key_id, secret = str(admin["access_key_id"]), str(admin["secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError):
        raise click.ClickException(
            f"no podid state in {state_dir}: start it first with `podid serve` or `podid up`"
        ) from None
    info = read_endpoint(state_dir, host, port)
    if host is None and port is None and not _serving(state_dir):
        # still print the lines (the admin keys are stable), but say why the aws CLI will not connect
        click.echo(
            f"warning: no podid is serving {state_dir} now; start it with `podid serve` or `podid up`",
            err=True,
        )
    region = _region(state_dir / "config.json")
    lines = {
        "AWS_ENDPOINT_URL": info.url,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "PODID_STATE_DIR": str(state_dir),
    }
    for key, value in lines.items():
        click.echo(f"export {key}={shlex.quote(value)}")
    click.echo("unset AWS_SESSION_TOKEN AWS_PROFILE")
    if aliases:
        click.echo("alias kubectl='podid kubectl' eksctl='podid eksctl'")


def _region(config_file: Path) -> str:
    import json

    try:
        return str(json.loads(config_file.read_text()).get("region", "us-west-2"))
    except (OSError, ValueError):
        return "us-west-2"


def _serving(state_dir: Path) -> bool:
    """Whether a serve holds the state directory's lock (a crashed one's lock is released)."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return False
    try:
        handle = open(path)  # noqa: SIM115 (closed below)
    except OSError:
        return True  # cannot tell: do not warn
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
