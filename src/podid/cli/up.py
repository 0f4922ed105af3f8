"""`podid up`, `podid down`, `podid status`: podid as one background service per state directory.

`up` starts `podid serve` detached (a new session, so the terminal's Ctrl-C does not reach it),
with its pid in `<state dir>/podid.pid` and its output in `<state dir>/podid.log`, and returns 0 only
once the endpoint answers HTTP and `admin.json` exists; otherwise it stops what it started and
exits 1 with the log's tail. A second `up` finds the running one and does nothing (exit 0).
`up --foreground` runs the same service in the terminal (Ctrl-C stops it).

`down` sends SIGTERM, waits for the service to stop its clusters (pods, agents, network
namespaces) and exit, then kills anything left in its process group; it exits 0 whether or not
podid was running. `status` prints what runs where, with health, and exits 0 when podid is running
and answers, 3 when it is not running (the LSB convention `systemctl status` follows), 1 when it
runs but does not answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

from podid.cli.common import DEFAULT_HOST, DEFAULT_PORT, read_endpoint, resolve_state_dir

PID_FILE = "podid.pid"
LOG_FILE = "podid.log"


@dataclass(frozen=True)
class Running:
    """What `podid.pid` and `endpoint.json` say about the service of a state directory."""

    pid: int
    url: str | None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not running (our own child between exit and wait)
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def running(state_dir: Path) -> Running | None:
    """The running service of `state_dir`, or None (a stale pid file is removed)."""
    pid = read_pid(state_dir)
    if pid is None:
        return None
    if not _alive(pid):
        with contextlib.suppress(OSError):
            (state_dir / PID_FILE).unlink()
        return None
    url = None
    try:
        data = json.loads((state_dir / "endpoint.json").read_text())
        if data.get("pid") == pid:
            url = read_endpoint(state_dir).url
    except (OSError, ValueError):
        pass
    return Running(pid, url)


def answers(url: str, timeout: float = 2.0) -> bool:
    """The endpoint answers HTTP (any status: an unsigned request gets an AWS error, which is an answer)."""
    try:
        with urllib.request.urlopen(url + "/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def log_tail(state_dir: Path, lines: int = 20) -> str:
    try:
        text = (state_dir / LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


def _serve_args(
    host: str, port: int, account_id: str | None, region: str, no_runtime: bool, verbose: int
) -> list[str]:
    args = ["serve", "--host", host, "--port", str(port), "--region", region]
    if account_id:
        args += ["--account-id", account_id]
    if no_runtime:
        args.append("--no-runtime")
    if verbose:
        args.append("-" + "v" * verbose)
    return args


_OPTIONS = [
    click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on."),
    click.option(
        "--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port (0: any free port)."
    ),
    click.option("--account-id", default=None, help="Account id of a new state directory (default: random)."),
    click.option("--region", default="us-west-2", show_default=True, help="Default region."),
    click.option("--no-runtime", is_flag=True, help="Do not run the local cluster runtime."),
    click.option("-v", "--verbose", count=True, help="More logging in the log file (-v info, -vv debug)."),
]


@click.command()
@click.option("--foreground", is_flag=True, help="Run in this terminal instead of in the background.")
@click.option(
    "--timeout", default=60.0, show_default=True, type=float, help="Seconds to wait for it to answer."
)
@_OPTIONS[0]
@_OPTIONS[1]
@_OPTIONS[2]
@_OPTIONS[3]
@_OPTIONS[4]
@_OPTIONS[5]
def up(
    foreground: bool,
    timeout: float,
    host: str,
    port: int,
    account_id: str | None,
    region: str,
    no_runtime: bool,
    verbose: int,
) -> None:
    """Start podid (endpoint, cluster runtimes, agents, webhook) in the background.

    Idempotent: if podid already runs for this state directory, say where and exit 0.
    """
    state_dir = resolve_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    current = running(state_dir)
    if current is not None:
        if current.url and answers(current.url):
            click.echo(f"podid is already running (pid {current.pid}) on {current.url}, state {state_dir}")
            return
        raise click.ClickException(
            f"podid (pid {current.pid}) runs for {state_dir} but does not answer; "
            f"see {state_dir / LOG_FILE} or stop it with `podid down`"
        )
    args = _serve_args(host, port, account_id, region, no_runtime, verbose)
    if foreground:
        _foreground(state_dir, args)
        return
    _background(state_dir, args, timeout)


def _foreground(state_dir: Path, args: list[str]) -> None:
    from podid.cli.main import cli

    (state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
    try:
        cli.main(args=args, prog_name="podid", standalone_mode=False)
    finally:
        if read_pid(state_dir) == os.getpid():
            with contextlib.suppress(OSError):
                (state_dir / PID_FILE).unlink()


def _background(state_dir: Path, args: list[str], timeout: float) -> None:
    env = dict(os.environ, PODID_STATE_DIR=str(state_dir))
    with open(state_dir / LOG_FILE, "ab") as log:
        log.write(f"--- podid up {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        child = subprocess.Popen(
            [sys.executable, "-m", "podid", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    (state_dir / PID_FILE).write_text(f"{child.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            with contextlib.suppress(OSError):
                (state_dir / PID_FILE).unlink()
            raise click.ClickException(
                f"podid exited with status {code} while starting; the end of {state_dir / LOG_FILE}:\n"
                + log_tail(state_dir)
            )
        current = running(state_dir)
        if (
            current is not None
            and current.url
            and (state_dir / "admin.json").exists()
            and answers(current.url)
        ):
            click.echo(f"podid is running (pid {child.pid}) on {current.url}, state {state_dir}")
            click.echo(f'point the aws CLI at it with: eval "$(podid --state-dir {state_dir} env)"')
            return
        time.sleep(0.1)
    _stop(state_dir, child.pid, 10.0)
    raise click.ClickException(
        f"podid did not answer within {timeout:g}s; the end of {state_dir / LOG_FILE}:\n"
        + log_tail(state_dir)
    )


def _stop(state_dir: Path, pid: int, timeout: float) -> bool:
    """SIGTERM, wait, then SIGKILL the process group; True if it stopped on SIGTERM."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    clean = False
    while time.monotonic() < deadline:
        if not _alive(pid):
            clean = True
            break
        time.sleep(0.05)
    # whatever is left in its session (it is the leader of a new session, so pgid == pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    while _alive(pid) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    if read_pid(state_dir) == pid:
        with contextlib.suppress(OSError):
            (state_dir / PID_FILE).unlink()
    return clean


@click.command()
@click.option(
    "--timeout", default=30.0, show_default=True, type=float, help="Seconds to wait before SIGKILL."
)
def down(timeout: float) -> None:
    """Stop the background podid of this state directory (and everything it runs)."""
    state_dir = resolve_state_dir()
    current = running(state_dir)
    if current is None:
        click.echo(f"podid is not running (state {state_dir})")
        return
    clean = _stop(state_dir, current.pid, timeout)
    if clean:
        click.echo(f"podid stopped (pid {current.pid})")
    else:
        click.echo(f"podid (pid {current.pid}) did not stop within {timeout:g}s: killed", err=True)
    from podid.kube import netns

    if netns.can_use_netns():
        # a clean stop removes its namespaces; after a kill they may remain
        netns.cleanup_leftovers(netns.prefix_for(state_dir))


@click.command()
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(output: str) -> None:
    """Show whether podid runs, where, and what its clusters run."""
    state_dir = resolve_state_dir()
    current = running(state_dir)
    started_by = "podid up"
    if current is None:
        current = _served(state_dir)
        started_by = "podid serve"
    report: dict[str, object] = {"stateDir": str(state_dir), "running": current is not None}
    code = 3
    if current is not None:
        healthy = bool(current.url) and answers(current.url or "")
        report.update(pid=current.pid, endpoint=current.url, healthy=healthy, startedBy=started_by)
        if started_by == "podid up":
            report["log"] = str(state_dir / LOG_FILE)
        code = 0 if healthy else 1
        if healthy:
            report["clusters"] = _clusters(state_dir)
    if output == "json":
        click.echo(json.dumps(report, indent=2))
        sys.exit(code)
    _print_status(report)
    sys.exit(code)


def _served(state_dir: Path) -> Running | None:
    """A `podid serve` started by hand: no pid file, but a live pid in endpoint.json."""
    try:
        pid = json.loads((state_dir / "endpoint.json").read_text()).get("pid")
    except (OSError, ValueError):
        return None
    if not isinstance(pid, int) or not _alive(pid):
        return None
    return Running(pid, read_endpoint(state_dir).url)


def _clusters(state_dir: Path) -> list[dict[str, object]]:
    """Clusters with their nodes and pods, from the runtime's kube API."""
    from podid.cli.kubectl import KubectlError, connect

    out: list[dict[str, object]] = []
    try:
        client = connect(state_dir)
        for c in client.call("GET", "/clusters")["clusters"]:
            base = f"/c/{c['account']}/{c['region']}/{c['name']}"
            nodes = client.call("GET", base + "/objects", query=[("kind", "Node"), ("all", "1")])["items"]
            pods = client.call("GET", base + "/objects", query=[("kind", "Pod"), ("all", "1")])["items"]
            ready = sum(
                1
                for n in nodes
                if any(
                    x.get("type") == "Ready" and x.get("status") == "True"
                    for x in (n.get("status") or {}).get("conditions") or []
                )
            )
            phases: dict[str, int] = {}
            for pod in pods:
                phase = str((pod.get("status") or {}).get("phase") or "Pending")
                phases[phase] = phases.get(phase, 0) + 1
            out.append(
                {
                    "name": c["name"],
                    "region": c["region"],
                    "nodes": len(nodes),
                    "readyNodes": ready,
                    # where the nodes (and their agents on 169.254.170.23 inside them) are reached
                    "nodeAddresses": [
                        a["address"]
                        for n in nodes
                        for a in (n.get("status") or {}).get("addresses") or []
                        if a.get("type") == "InternalIP"
                    ],
                    "pods": phases,
                    "agents": sum(
                        1
                        for p in pods
                        if p["metadata"]["name"].startswith("eks-pod-identity-agent-")
                        and (p.get("status") or {}).get("phase") == "Running"
                    ),
                }
            )
    except KubectlError as exc:
        out.append({"error": str(exc)})
    return out


def _print_status(report: dict[str, object]) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    if not report["running"]:
        console.print(f"podid is [bold]not running[/bold] (state {report['stateDir']})")
        console.print("start it with `podid up`")
        return
    health = "[green]healthy[/green]" if report["healthy"] else "[red]not answering[/red]"
    console.print(f"podid is [bold]running[/bold] (pid {report['pid']}, {report['startedBy']}), {health}")
    console.print(
        f"  endpoint   {report['endpoint'] or '(not listening yet)'}  (IAM, STS, EKS, EKS Auth, S3, ...)"
    )
    console.print(f"  state dir  {report['stateDir']}")
    if "log" in report:
        console.print(f"  log        {report['log']}")
    clusters = report.get("clusters")
    if not isinstance(clusters, list):
        return
    if not clusters:
        console.print("  clusters   none (create one: `podid eksctl create cluster -f cluster.yaml`)")
        return
    from podid.kube.printers import tabwrite

    rows = [["CLUSTER", "REGION", "NODES READY", "NODE ADDRESSES", "AGENTS", "PODS"]]
    for c in clusters:
        if "error" in c:
            console.print(f"  clusters   [red]{c['error']}[/red]")
            return
        pods = c["pods"]
        assert isinstance(pods, dict)
        rows.append(
            [
                str(c["name"]),
                str(c["region"]),
                f"{c['readyNodes']}/{c['nodes']}",
                ",".join(c["nodeAddresses"]) or "-",
                str(c["agents"]),
                ", ".join(f"{n} {phase}" for phase, n in sorted(pods.items())) or "none",
            ]
        )
    console.print(tabwrite(rows), end="", markup=False, soft_wrap=True)
