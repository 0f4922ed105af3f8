"""`podid eksctl`'s IRSA commands (registered into `podid.cli.eksctl` by `register`):

    podid eksctl utils associate-iam-oidc-provider --cluster C [--region R] [--approve]
    podid eksctl utils migrate-to-pod-identity --cluster C [--approve]
        [--remove-oidc-provider-trust-relationship]
    podid eksctl create iamserviceaccount --cluster C --namespace NS --name SA
        --attach-policy-arn ARN [--role-name N] [--role-only] [--override-existing-serviceaccounts]
        [--approve]
    podid eksctl get iamserviceaccount --cluster C [--namespace NS] [--name SA] [-o table|json]
    podid eksctl delete iamserviceaccount --cluster C --namespace NS --name SA [--approve]

The work is in `podid.iac.irsa`; this module parses eksctl's flags and prints its lines.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from podid.cli.common import resolve_state_dir


@dataclass
class KubeApi:
    """The runtime's kube API for one cluster (what `podid kubectl` calls)."""

    client: Any
    base: str

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        query = [("kind", kind)]
        query.append(("all", "1") if namespace is None else ("namespace", namespace))
        answer = self.client.call("GET", self.base + "/objects", query=query)
        return list(answer["items"])

    def apply(self, documents: list[dict[str, Any]]) -> list[str]:
        from podid.iac.irsa import IrsaError

        answer = self.client.call(
            "POST", self.base + "/apply", {"documents": documents, "source": "eksctl", "namespace": "default"}
        )
        if answer["errors"]:
            raise IrsaError("; ".join(answer["errors"]))
        return list(answer["results"])

    def delete(self, kind: str, namespace: str, name: str) -> None:
        from podid.iac.irsa import IrsaError

        answer = self.client.call(
            "POST",
            self.base + "/delete",
            {"targets": [{"kind": kind, "namespace": namespace, "name": name}], "ignoreNotFound": True},
        )
        if answer["errors"]:
            raise IrsaError("; ".join(answer["errors"]))


@dataclass
class Env:
    iam: Any
    eks: Any
    kube: KubeApi
    log: Any
    region: str


def _env(cluster: str, region: str | None) -> Env:
    from rich.console import Console

    from podid.cli.kubectl import connect
    from podid.iac.eksctl.clients import Podid, Progress

    state_dir = resolve_state_dir()
    podid = Podid.from_state_dir(state_dir)
    region = (
        region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or podid.default_region
    )
    kube = KubeApi(connect(state_dir), f"/c/{podid.account_id}/{region}/{cluster}")
    log = Progress(Console(stderr=True, highlight=False))
    return Env(podid.client("iam", region), podid.client("eks", region), kube, log, region)


def _run(action: Callable[[], None]) -> None:
    from podid.cli.kubectl import KubectlError
    from podid.iac.eksctl.clients import EksctlError, error_message
    from podid.iac.irsa import IrsaError

    try:
        action()
    except (IrsaError, EksctlError, KubectlError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if getattr(exc, "response", None) is None:
            raise
        click.echo(f"Error: {error_message(exc)}", err=True)
        sys.exit(1)


_CLUSTER = click.option("-c", "--cluster", required=True, help="EKS cluster name.")
_REGION = click.option("-r", "--region", default=None, help="AWS region.")
_APPROVE = click.option("--approve", is_flag=True, help="Apply the changes (otherwise only plan them).")


@click.group("utils")
def utils() -> None:
    """Various utils (IAM OIDC provider, migration to Pod Identity)."""


@utils.command("associate-iam-oidc-provider")
@_CLUSTER
@_REGION
@_APPROVE
def associate_iam_oidc_provider(cluster: str, region: str | None, approve: bool) -> None:
    """Set up the cluster's IAM OIDC identity provider (IRSA)."""

    def action() -> None:
        from podid.iac.irsa import associate_oidc_provider

        env = _env(cluster, region)
        associate_oidc_provider(env.iam, env.eks, cluster, env.region, approve, env.log)

    _run(action)


@utils.command("migrate-to-pod-identity")
@_CLUSTER
@_REGION
@_APPROVE
@click.option(
    "--remove-oidc-provider-trust-relationship",
    "remove_oidc_trust",
    is_flag=True,
    help="Remove the OIDC trust from the roles and the role-arn annotation from the service accounts.",
)
def migrate_to_pod_identity(cluster: str, region: str | None, approve: bool, remove_oidc_trust: bool) -> None:
    """Move IRSA service accounts to Pod Identity associations."""

    def action() -> None:
        from podid.iac.irsa import migrate_to_pod_identity as migrate

        env = _env(cluster, region)
        migrate(
            env.iam,
            env.eks,
            env.kube,
            cluster=cluster,
            region=env.region,
            approve=approve,
            remove_oidc_trust=remove_oidc_trust,
            log=env.log,
        )

    _run(action)


@click.command("iamserviceaccount")
@_CLUSTER
@_REGION
@click.option("--namespace", default="default", show_default=True, help="Namespace of the service account.")
@click.option("--name", required=True, help="Name of the service account.")
@click.option(
    "--attach-policy-arn", "policy_arns", multiple=True, help="Policy ARN(s) to attach (repeatable, CSV)."
)
@click.option("--role-name", default=None, help="Name of the IAM role (default: generated).")
@click.option("--role-only", is_flag=True, help="Create only the role, not the service account.")
@click.option(
    "--override-existing-serviceaccounts", "override", is_flag=True, help="Annotate an existing SA."
)
@_APPROVE
def create_iamserviceaccount(
    cluster: str,
    region: str | None,
    namespace: str,
    name: str,
    policy_arns: tuple[str, ...],
    role_name: str | None,
    role_only: bool,
    override: bool,
    approve: bool,
) -> None:
    """Create an IAM role for a service account (IRSA) and the annotated service account."""

    def action() -> None:
        from podid.iac.irsa import create_iam_service_account

        env = _env(cluster, region)
        arns = [a.strip() for value in policy_arns for a in value.split(",") if a.strip()]
        create_iam_service_account(
            env.iam,
            env.eks,
            env.kube,
            cluster=cluster,
            region=env.region,
            namespace=namespace,
            name=name,
            policy_arns=arns,
            role_name=role_name,
            role_only=role_only,
            override_existing=override,
            approve=approve,
            log=env.log,
        )

    _run(action)


@click.command("iamserviceaccount")
@_CLUSTER
@_REGION
@click.option("--namespace", default=None, help="Only this namespace.")
@click.option("--name", default=None, help="Only this service account.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def get_iamserviceaccount(
    cluster: str, region: str | None, namespace: str | None, name: str | None, output: str
) -> None:
    """List the IAM service accounts of a cluster."""

    def action() -> None:
        from podid.iac.irsa import list_iam_service_accounts

        env = _env(cluster, region)
        found = [
            s
            for s in list_iam_service_accounts(env.iam, cluster)
            if (namespace is None or s.namespace == namespace) and (name is None or s.name == name)
        ]
        if output == "json":
            click.echo(json.dumps(
                [{"metadata": {"name": s.name, "namespace": s.namespace}, "status": {"roleARN": s.role_arn}}
                 for s in found], indent=4))  # fmt: skip
            return
        if not found:
            click.echo("No iamserviceaccounts found", err=True)
            return
        width_ns = max(len("NAMESPACE"), *(len(s.namespace) for s in found))
        width_name = max(len("NAME"), *(len(s.name) for s in found))
        click.echo(f"{'NAMESPACE':<{width_ns}}\t{'NAME':<{width_name}}\tROLE ARN")
        for s in found:
            click.echo(f"{s.namespace:<{width_ns}}\t{s.name:<{width_name}}\t{s.role_arn}")

    _run(action)


@click.command("iamserviceaccount")
@_CLUSTER
@_REGION
@click.option("--namespace", default="default", show_default=True)
@click.option("--name", required=True)
@_APPROVE
def delete_iamserviceaccount(
    cluster: str, region: str | None, namespace: str, name: str, approve: bool
) -> None:
    """Delete an IAM service account's role and service account."""

    def action() -> None:
        from podid.iac.irsa import delete_iam_service_account

        env = _env(cluster, region)
        delete_iam_service_account(
            env.iam, env.kube, cluster=cluster, namespace=namespace, name=name, approve=approve, log=env.log
        )

    _run(action)


def register(eksctl: click.Group, create: click.Group, get: click.Group, delete: click.Group) -> None:
    """Add the IRSA commands to `podid eksctl` (its verbs and a `utils` group)."""
    eksctl.add_command(utils)
    for verb, command in ((create, create_iamserviceaccount), (get, get_iamserviceaccount),
                          (delete, delete_iamserviceaccount)):  # fmt: skip
        verb.add_command(command, "iamserviceaccount")
        verb.add_command(command, "iamserviceaccounts")
