"""`podid token create`: a service-account token signed by a cluster's issuer (like `kubectl create token`).

It reads the state directory (`--state-dir`, same default as `podid serve`): the account and the
default region from `config.json`, the cluster (and its signing key) from the store `podid.db`
(read while `serve` runs: SQLite WAL allows it; this command never writes), and the issuer URL from
the running endpoint's `endpoint.json` (the `iss` claim must equal the cluster's
`identity.oidc.issuer`, which is built on the endpoint's URL).

Without `--cluster`, the most recently created cluster of the account and region is used.
EKS Auth only honours tokens bound to a pod, so pass `--pod-name` for tokens meant for
AssumeRoleForPodIdentity; `--pod-uid` defaults to a random UUID.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import click

from podid.cli.common import read_endpoint, resolve_state_dir

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")
MIN_DURATION_S = 600


def parse_duration(text: str) -> int:
    """Seconds in a Go-style duration: `24h`, `90m`, `1h30m`, `3600s` or plain seconds `3600`."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise click.BadParameter(f"{text!r} is not a duration (examples: 24h, 90m, 1h30m, 3600s)")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total < MIN_DURATION_S:
        raise click.BadParameter(
            f"the duration must be at least 10m ({MIN_DURATION_S}s), as kube-apiserver's"
        )
    return total


def _config(state_dir: Path) -> dict[str, str]:
    path = state_dir / "config.json"
    if not path.exists():
        raise click.ClickException(f"no podid state in {state_dir}: start `podid serve` first")
    data = json.loads(path.read_text())
    return {"account_id": str(data["account_id"]), "region": str(data.get("region") or "us-west-2")}


@click.group()
def token() -> None:
    """Service-account tokens signed by a cluster's issuer."""


@token.command("create")
@click.option("--cluster", "cluster_name", default=None, help="Cluster name (default: the newest cluster).")
@click.option(
    "-n", "--namespace", default="default", show_default=True, help="Namespace of the service account."
)
@click.option("--service-account", required=True, help="Service account name.")
@click.option("--pod-name", default=None, help="Bind the token to this pod (needed by EKS Auth).")
@click.option("--pod-uid", default=None, help="The bound pod's uid (default: random).")
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    default=("pods.eks.amazonaws.com",),
    show_default=True,
    help="Audience (repeatable).",
)
@click.option("--duration", default="24h", show_default=True, help="Lifetime (Go duration: 24h, 90m, 3600s).")
@click.option("--region", default=None, help="Region of the cluster (default: the state directory's).")
def create(
    cluster_name: str | None,
    namespace: str,
    service_account: str,
    pod_name: str | None,
    pod_uid: str | None,
    audiences: tuple[str, ...],
    duration: str,
    region: str | None,
) -> None:
    """Print a projected-style service-account token (RS256 JWT) for NAMESPACE/SERVICE_ACCOUNT."""
    from podid.kube.issuer import TokenIssuer
    from podid.services.eks.domain import latest_cluster, read_cluster
    from podid.store import Store

    seconds = parse_duration(duration)
    if pod_uid and not pod_name:
        raise click.UsageError("--pod-uid needs --pod-name")
    state_dir = resolve_state_dir()
    config = _config(state_dir)
    account, region = config["account_id"], region or config["region"]
    db = state_dir / "podid.db"
    if not db.exists():
        raise click.ClickException(f"no podid store in {state_dir}: start `podid serve` first")
    store = Store(db)
    try:
        if cluster_name is None:
            cluster = latest_cluster(store, account, region)
            if cluster is None:
                raise click.ClickException(f"no cluster in account {account}, region {region}")
        else:
            cluster = read_cluster(store, account, region, cluster_name)
            if cluster is None:
                raise click.ClickException(
                    f"no cluster named {cluster_name} in account {account}, region {region}"
                )
    finally:
        store.close()
    base = read_endpoint(state_dir).url
    issuer = TokenIssuer(cluster.signing_key_pem.encode("ascii"), cluster.issuer_url(base))
    jwt = issuer.issue(
        namespace,
        service_account,
        audience=list(audiences),
        duration_s=seconds,
        pod_name=pod_name,
        pod_uid=pod_uid,
        now=datetime.now(UTC),
    )
    click.echo(jwt)
