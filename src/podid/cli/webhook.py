"""`podid webhook`: the Pod Identity admission webhook as an HTTPS server.

Flags are named like amazon-eks-pod-identity-webhook's where they exist. Defaults are what EKS
runs it with (port 23443 on the loopback address, regional STS on). The identities come from the
real webhook's JSON file (`--watch-container-credentials-config`) or from the EKS API of a running
podid (`--cluster-name`, optionally `--endpoint`; the endpoint defaults to the one recorded in the
state directory).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from podid.webhook.config import IdentitySource, WebhookConfig


@click.command("webhook")
@click.option(
    "--tls-cert", required=True, type=click.Path(exists=True, dir_okay=False), help="PEM certificate."
)
@click.option(
    "--tls-key", required=True, type=click.Path(exists=True, dir_okay=False), help="PEM private key."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=23443, show_default=True, type=int, help="Port (EKS: 23443).")
@click.option(
    "--watch-container-credentials-config",
    "identities_file",
    type=click.Path(dir_okay=False),
    help='Identities JSON file {"identities":[{"namespace":..,"serviceAccount":..}]}, re-read on change.',
)
@click.option("--cluster-name", help="Read associations of this cluster from the EKS API instead of a file.")
@click.option("--endpoint", help="EKS API endpoint URL (default: the running podid of the state directory).")
@click.option("--region", help="Region of the EKS API client (default: --aws-default-region or us-east-1).")
@click.option("--profile", help="AWS profile for the EKS API client.")
@click.option("--identities-cache-seconds", default=2.0, show_default=True, type=float)
@click.option(
    "--aws-default-region", default="", help="Inject AWS_REGION/AWS_DEFAULT_REGION with this region."
)
@click.option(
    "--sts-regional-endpoint",
    type=click.BOOL,
    default=True,
    is_flag=False,
    flag_value="true",
    show_default=True,
    help="Inject AWS_STS_REGIONAL_ENDPOINTS=regional (EKS does).",
)
@click.option("--token-expiration", default=86400, show_default=True, type=int)
@click.option("--annotation-prefix", default="eks.amazonaws.com", show_default=True)
@click.option("--container-credentials-audience", default="pods.eks.amazonaws.com", show_default=True)
@click.option(
    "--container-credentials-token-mount-path",
    default="/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
    show_default=True,
)
@click.option(
    "--container-credentials-token-volume-name", default="eks-pod-identity-token", show_default=True
)
@click.option("--container-credentials-token-path", default="eks-pod-identity-token", show_default=True)
@click.option(
    "--container-credentials-full-uri", default="http://169.254.170.23/v1/credentials", show_default=True
)
@click.option("--token-audience", default="sts.amazonaws.com", show_default=True, help="IRSA audience.")
@click.option(
    "--token-mount-path",
    default="/var/run/secrets/eks.amazonaws.com/serviceaccount",
    show_default=True,
    help="IRSA token mount path.",
)
def webhook(
    tls_cert: str,
    tls_key: str,
    host: str,
    port: int,
    identities_file: str | None,
    cluster_name: str | None,
    endpoint: str | None,
    region: str | None,
    profile: str | None,
    identities_cache_seconds: float,
    aws_default_region: str,
    sts_regional_endpoint: bool,
    token_expiration: int,
    annotation_prefix: str,
    container_credentials_audience: str,
    container_credentials_token_mount_path: str,
    container_credentials_token_volume_name: str,
    container_credentials_token_path: str,
    container_credentials_full_uri: str,
    token_audience: str,
    token_mount_path: str,
) -> None:
    """Serve POST /mutate (AdmissionReview admission.k8s.io/v1) and GET /healthz over HTTPS."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if bool(identities_file) == bool(cluster_name):
        raise click.UsageError(
            "give exactly one of --watch-container-credentials-config FILE or --cluster-name C"
        )
    config = WebhookConfig(
        annotation_prefix=annotation_prefix,
        audience=container_credentials_audience,
        mount_path=container_credentials_token_mount_path,
        volume_name=container_credentials_token_volume_name,
        token_path=container_credentials_token_path,
        full_uri=container_credentials_full_uri,
        token_expiration=token_expiration,
        region=aws_default_region,
        regional_sts=sts_regional_endpoint,
        irsa_audience=token_audience,
        irsa_mount_path=token_mount_path,
    )
    identities: IdentitySource
    if identities_file:
        from podid.webhook.identities import IdentityFile

        identities = IdentityFile(identities_file)
        source = f"identities file {identities_file}"
    else:
        from podid.cli.common import read_endpoint, resolve_state_dir
        from podid.webhook.identities import EksApiIdentities

        assert cluster_name is not None
        url = endpoint or read_endpoint(resolve_state_dir()).url
        identities = EksApiIdentities.from_endpoint(
            cluster_name,
            url,
            region or aws_default_region or "us-east-1",
            cache_seconds=identities_cache_seconds,
            profile=profile,
        )
        source = f"EKS API {url} (cluster {cluster_name})"
    try:
        asyncio.run(_serve(config, identities, host, port, tls_cert, tls_key, source))
    except OSError as exc:
        click.echo(f"podid webhook: cannot listen on {host}:{port}: {exc}", err=True)
        sys.exit(1)


async def _serve(
    config: WebhookConfig,
    identities: IdentitySource,
    host: str,
    port: int,
    tls_cert: str,
    tls_key: str,
    source: str,
) -> None:
    from podid.webhook.server import WebhookServer, make_app, tls_context

    server = WebhookServer(make_app(config, identities), tls_context(tls_cert, tls_key), host, port)
    bound = await server.start()
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"podid webhook listening on https://{shown}:{bound}/mutate ({source})", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
