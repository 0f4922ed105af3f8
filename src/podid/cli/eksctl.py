"""`podid eksctl`: eksctl's commands for podid's local clusters, with eksctl's syntax and log lines.

    podid eksctl create cluster -f cluster.yaml [--timeout 25m]
    podid eksctl create cluster --name N [--region R] [--version V] [--nodes 2] [--node-type T]
    podid eksctl delete cluster --name N [--region R] [--wait] | -f cluster.yaml
    podid eksctl get cluster [--name N] [--region R] [-o table|json|yaml]
    podid eksctl create podidentityassociation --cluster C --namespace NS --service-account-name SA
        (--role-arn ARN | --permission-policy-arns ARN,... | --well-known-policies P,...) | -f cluster.yaml
    podid eksctl get podidentityassociation --cluster C [--namespace NS] [--service-account-name SA] [-o ...]
    podid eksctl delete podidentityassociation --cluster C --namespace NS --service-account-name SA | -f F

Everything goes through podid's AWS APIs as the administrator of the running podid (see
`podid.iac.eksctl.clients`); errors print `Error: ...` and exit 1, as eksctl does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from podid.cli.common import resolve_state_dir

NOUNS = {
    "cluster": "cluster",
    "clusters": "cluster",
    "podidentityassociation": "podidentityassociation",
    "podidentityassociations": "podidentityassociation",
    "podidentity": "podidentityassociation",
    "pia": "podidentityassociation",
}


class _Verb(click.Group):
    """A verb whose nouns accept eksctl's plural and short forms."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, NOUNS.get(cmd_name, cmd_name))


def _run(action: Callable[[], None]) -> None:
    """Run an action; eksctl's `Error: ...` and exit status 1 on failure."""
    from podid.iac.eksctl.clients import EksctlError, error_message
    from podid.iac.eksctl.schema import ConfigError

    try:
        action()
    except (EksctlError, ConfigError) as exc:
        click.echo(f"Error: {error_message(exc)}", err=True)
        sys.exit(1)
    except Exception as exc:
        if getattr(exc, "response", None) is None and not type(exc).__module__.startswith("botocore"):
            raise
        click.echo(f"Error: {error_message(exc)}", err=True)
        sys.exit(1)


def _context(timeout: str) -> tuple[Any, Any, float]:
    from rich.console import Console

    from podid.iac.eksctl.clients import Podid, Progress, parse_duration

    seconds = parse_duration(timeout)
    podid = Podid.from_state_dir(resolve_state_dir())
    return podid, Progress(Console(stderr=True, highlight=False)), seconds


def _region(flag: str | None, podid: Any) -> str:
    import os

    return (
        flag
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or str(podid.default_region)
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def eksctl() -> None:
    """eksctl for podid's local clusters (ClusterConfig files, clusters, pod identity associations)."""


@eksctl.group(cls=_Verb)
def create() -> None:
    """Create a cluster or pod identity associations."""


@eksctl.group(cls=_Verb)
def get() -> None:
    """Show clusters or pod identity associations."""


@eksctl.group(cls=_Verb)
def delete() -> None:
    """Delete a cluster or pod identity associations."""


_TIMEOUT = click.option(
    "--timeout", default="25m0s", show_default=True, help="Maximum waiting time (Go duration)."
)


@create.command("cluster")
@click.option("-f", "--config-file", type=click.Path(dir_okay=False), help="A ClusterConfig file.")
@click.option("-n", "--name", help="Cluster name (without -f).")
@click.option("-r", "--region", help="AWS region.")
@click.option("--version", "k8s_version", help="Kubernetes version (without -f).")
@click.option("--nodes", type=int, default=2, show_default=True, help="Nodes of the default node group.")
@click.option("-t", "--node-type", default="m5.large", show_default=True, help="Instance type of its nodes.")
@click.option("--without-nodegroup", is_flag=True, help="Create no node group.")
@_TIMEOUT
def create_cluster(
    config_file: str | None,
    name: str | None,
    region: str | None,
    k8s_version: str | None,
    nodes: int,
    node_type: str,
    without_nodegroup: bool,
    timeout: str,
) -> None:
    """Create a cluster: control plane, roles, add-ons, node groups, pod identity associations."""

    def action() -> None:
        from podid.iac.eksctl.clients import EksctlError
        from podid.iac.eksctl.config import load_config, parse_config
        from podid.iac.eksctl.create import Creator, check_exists

        podid, progress, seconds = _context(timeout)
        explicit_addons = True
        if config_file:
            if name or k8s_version:
                raise EksctlError("cannot use --name or --version when --config-file/-f is set")
            cfg = load_config(config_file, _region(region, podid))
            import yaml

            explicit_addons = "addons" in (yaml.safe_load(Path(config_file).read_text()) or {})
            if region and region != cfg.region:
                raise EksctlError(f"--region={region} and metadata.region={cfg.region} do not match")
        else:
            if not name:
                raise EksctlError("--name must be set (podid does not invent cluster names); or use -f")
            doc: dict[str, Any] = {
                "apiVersion": "eksctl.io/v1alpha5",
                "kind": "ClusterConfig",
                "metadata": {"name": name, "region": _region(region, podid)},
            }
            if k8s_version:
                doc["metadata"]["version"] = k8s_version
            if not without_nodegroup:
                doc["managedNodeGroups"] = [
                    {
                        "name": "ng-1",
                        "instanceType": node_type,
                        "desiredCapacity": nodes,
                        "minSize": nodes,
                        "maxSize": nodes,
                    }
                ]
            explicit_addons = False
            cfg = parse_config(doc)
        eks = podid.client("eks", cfg.region)
        check_exists(eks, cfg.name)
        Creator(podid, progress, seconds).create_cluster(cfg, explicit_addons)

    _run(action)


@delete.command("cluster")
@click.option("-f", "--config-file", type=click.Path(dir_okay=False), help="A ClusterConfig file naming it.")
@click.option("-n", "--name", help="Cluster name.")
@click.option("-r", "--region", help="AWS region.")
@click.option(
    "-w", "--wait", is_flag=True, help="Wait for the deletion of every resource (podid always does)."
)
@_TIMEOUT
def delete_cluster(
    config_file: str | None, name: str | None, region: str | None, wait: bool, timeout: str
) -> None:
    """Delete a cluster and everything eksctl created for it."""

    def action() -> None:
        from podid.iac.eksctl.clients import EksctlError
        from podid.iac.eksctl.config import load_config
        from podid.iac.eksctl.manage import Manager

        podid, progress, seconds = _context(timeout)
        cluster_name, cluster_region = name, _region(region, podid)
        if config_file:
            cfg = load_config(config_file, cluster_region)
            cluster_name, cluster_region = cfg.name, cfg.region
        if not cluster_name:
            raise EksctlError("--name must be set")
        Manager(podid, progress, seconds).delete_cluster(cluster_name, cluster_region, wait=True)

    _run(action)


_OUTPUT = click.option(
    "-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table", show_default=True
)


@get.command("cluster")
@click.option("-n", "--name", help="Cluster name.")
@click.option("-r", "--region", help="AWS region.")
@_OUTPUT
def get_cluster(name: str | None, region: str | None, output: str) -> None:
    """List clusters, or show one."""

    def action() -> None:
        from podid.iac.eksctl.manage import Manager

        podid, progress, seconds = _context("1m")
        text = Manager(podid, progress, seconds).get_clusters(_region(region, podid), name, output)
        if not text and output == "table":
            progress.info(f"no EKS clusters found in region {_region(region, podid)}")
        click.echo(text, nl=False)

    _run(action)


def _identities_from(
    config_file: str | None,
    cluster: str | None,
    region: str | None,
    podid: Any,
) -> tuple[str, str, list[Any]]:
    from podid.iac.eksctl.clients import EksctlError
    from podid.iac.eksctl.config import load_config

    if not config_file:
        if not cluster:
            raise EksctlError("--cluster must be set")
        return cluster, _region(region, podid), []
    cfg = load_config(config_file, _region(region, podid))
    if cluster and cluster != cfg.name:
        raise EksctlError(f"--cluster={cluster} and metadata.name={cfg.name} do not match")
    return cfg.name, cfg.region, list(cfg.pod_identities)


_PIA_OPTIONS: list[Callable[[Callable[..., None]], Callable[..., None]]] = [
    click.option("-f", "--config-file", type=click.Path(dir_okay=False), help="A ClusterConfig file."),
    click.option("-c", "--cluster", help="Cluster name."),
    click.option("-r", "--region", help="AWS region."),
    click.option("--namespace", help="Namespace of the service account."),
    click.option("--service-account-name", help="Name of the service account."),
]


def _pia_options(func: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_PIA_OPTIONS):
        func = option(func)
    return func


@create.command("podidentityassociation")
@_pia_options
@click.option("--role-arn", help="An existing role for the association.")
@click.option("--role-name", help="Name of the role eksctl creates.")
@click.option("--permission-policy-arns", help="Comma-separated policy ARNs for the role eksctl creates.")
@click.option("--well-known-policies", help="Comma-separated well-known policies (e.g. ebsCSIController).")
@click.option("--permissions-boundary-arn", help="Permissions boundary of the role eksctl creates.")
@click.option("--create-service-account", is_flag=True, help="Also create the service account.")
@_TIMEOUT
def create_pia(
    config_file: str | None,
    cluster: str | None,
    region: str | None,
    namespace: str | None,
    service_account_name: str | None,
    role_arn: str | None,
    role_name: str | None,
    permission_policy_arns: str | None,
    well_known_policies: str | None,
    permissions_boundary_arn: str | None,
    create_service_account: bool,
    timeout: str,
) -> None:
    """Create pod identity associations (and their roles)."""

    def action() -> None:
        from podid.iac.eksctl.clients import EksctlError
        from podid.iac.eksctl.config import parse_config
        from podid.iac.eksctl.manage import Manager

        podid, progress, seconds = _context(timeout)
        name, cluster_region, identities = _identities_from(config_file, cluster, region, podid)
        if config_file:
            if not identities:
                raise EksctlError("no iam.podIdentityAssociations in the config file")
        else:
            entry: dict[str, Any] = {
                "namespace": namespace or "",
                "serviceAccountName": service_account_name or "",
                "createServiceAccount": create_service_account,
            }
            if role_arn:
                entry["roleARN"] = role_arn
            if role_name:
                entry["roleName"] = role_name
            if permission_policy_arns:
                entry["permissionPolicyARNs"] = [s for s in permission_policy_arns.split(",") if s]
            if well_known_policies:
                entry["wellKnownPolicies"] = {w: True for w in well_known_policies.split(",") if w}
            if permissions_boundary_arn:
                entry["permissionsBoundaryARN"] = permissions_boundary_arn
            doc = {
                "apiVersion": "eksctl.io/v1alpha5",
                "kind": "ClusterConfig",
                "metadata": {"name": name, "region": cluster_region},
                "iam": {"podIdentityAssociations": [entry]},
            }
            from podid.iac.eksctl.schema import ConfigError

            try:
                identities = list(parse_config(doc).pod_identities)
            except ConfigError as exc:
                message = exc.message.replace("iam.podIdentityAssociations[0].", "--").replace(
                    "iam.podIdentityAssociations[0]: ", ""
                )
                raise EksctlError(message) from None
        Manager(podid, progress, seconds).create_pod_identities(name, cluster_region, identities)

    _run(action)


@get.command("podidentityassociation")
@_pia_options
@_OUTPUT
def get_pia(
    config_file: str | None,
    cluster: str | None,
    region: str | None,
    namespace: str | None,
    service_account_name: str | None,
    output: str,
) -> None:
    """List pod identity associations of a cluster."""

    def action() -> None:
        from podid.iac.eksctl.manage import Manager

        podid, progress, seconds = _context("1m")
        name, cluster_region, _ = _identities_from(config_file, cluster, region, podid)
        text = Manager(podid, progress, seconds).get_pod_identities(
            name, cluster_region, namespace, service_account_name, output
        )
        if not text and output == "table":
            progress.info(f'no pod identity associations found in cluster "{name}"')
        click.echo(text, nl=False)

    _run(action)


@delete.command("podidentityassociation")
@_pia_options
@_TIMEOUT
def delete_pia(
    config_file: str | None,
    cluster: str | None,
    region: str | None,
    namespace: str | None,
    service_account_name: str | None,
    timeout: str,
) -> None:
    """Delete pod identity associations (and the roles eksctl created for them)."""

    def action() -> None:
        from podid.iac.eksctl.clients import EksctlError
        from podid.iac.eksctl.manage import Manager

        podid, progress, seconds = _context(timeout)
        name, cluster_region, identities = _identities_from(config_file, cluster, region, podid)
        if config_file:
            targets = [(i.namespace, i.service_account) for i in identities]
        else:
            if not namespace or not service_account_name:
                raise EksctlError("--namespace and --service-account-name must be set")
            targets = [(namespace, service_account_name)]
        Manager(podid, progress, seconds).delete_pod_identities(name, cluster_region, targets)

    _run(action)


def _register_irsa() -> None:
    """IRSA: utils associate-iam-oidc-provider / migrate-to-pod-identity, create|get|delete
    iamserviceaccount (`podid.cli.eksctl_irsa`)."""
    from podid.cli.eksctl_irsa import register

    register(eksctl, create, get, delete)


_register_irsa()
