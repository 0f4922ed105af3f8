"""eksctl's IRSA commands over podid's public APIs: OIDC provider, iamserviceaccounts, the migration.

What each does (IRSA reference §1.5 and §5.2, eksctl's `associate_iam_oidc_provider.go`,
`iamserviceaccount` and `podidentityassociation/migrator.go`), with podid's differences:

- `associate_oidc_provider`: the cluster's `identity.oidc.issuer` from DescribeCluster; the provider's
  ARN is looked up with GetOpenIDConnectProvider (NoSuchEntity = absent); if absent and approved,
  CreateOpenIDConnectProvider with client id `sts.amazonaws.com` and eksctl's tags, then the
  cluster is tagged `alpha.eksctl.io/cluster-oidc-enabled=true`. eksctl sends the SHA-1 of the
  issuer's TLS root certificate; podid's local issuers are plain http on loopback, so no thumbprint
  is sent (the list is optional in IAM's current model).
- `create_iam_service_account`: needs the OIDC provider (eksctl's error otherwise); creates the role
  directly (eksctl uses a CloudFormation stack `eksctl-<cluster>-addon-iamserviceaccount-<ns>-<sa>`
  whose tags the role carries; podid tags the role the same way and names it like the stack's role),
  trust = exact `<issuer>:sub` + `:aud`; attaches the policies; creates or annotates the
  ServiceAccount (an existing one only with `override_existing`), unless `role_only`.
- `migrate_to_pod_identity`: for each ServiceAccount with `eks.amazonaws.com/role-arn`, append
  `{"Effect":"Allow","Principal":{"Service":["pods.eks.amazonaws.com"]},"Action":["sts:AssumeRole",
  "sts:TagSession"]}` to the role's trust policy (kept statements re-marshalled with list values, as
  eksctl's Go structs do), with `remove_oidc_trust` drop the statements whose one Federated principal
  is an OIDC provider and remove the annotation, then create the association. The
  `eks-pod-identity-agent` add-on is installed first when missing. Without `approve` only the plan is
  printed. Unlike eksctl (eksctl-io/eksctl#7753), a re-run skips associations that already exist.

Running pods are not touched: they keep the credentials they were admitted with until re-created.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podid.iac.eksctl.clients import EksctlError

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
EKSCTL_VERSION = "0.190.0"
TAG_CLUSTER = "alpha.eksctl.io/cluster-name"
TAG_SA = "alpha.eksctl.io/iamserviceaccount-name"
TAG_VERSION = "alpha.eksctl.io/eksctl-version"
POD_IDENTITY_STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"Service": ["pods.eks.amazonaws.com"]},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
}
NO_CHANGES = "no changes were applied, run again with '--approve' to apply the changes"


class IrsaError(EksctlError):
    """A failure eksctl reports as `Error: <message>`."""


class Log(Protocol):
    def info(self, message: str) -> None: ...

    def success(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...


class KubeWriter(Protocol):
    """The cluster's objects (the runtime's kube API, as `podid kubectl` reaches it)."""

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]: ...

    def apply(self, documents: list[dict[str, Any]]) -> list[str]: ...


class KubeObjects(KubeWriter, Protocol):
    def delete(self, kind: str, namespace: str, name: str) -> None: ...


@dataclass(frozen=True)
class ClusterOidc:
    name: str
    region: str
    account: str
    issuer: str
    provider_arn: str

    @property
    def hostpath(self) -> str:
        return self.issuer.split("://", 1)[1]


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def cluster_oidc(eks: Any, name: str, region: str) -> ClusterOidc:
    """The cluster's issuer and the ARN its IAM OIDC provider has (or would have)."""
    cluster = eks.describe_cluster(name=name)["cluster"]
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        raise IrsaError("unknown OIDC issuer URL")
    scheme = issuer.split("://", 1)[0]
    if scheme not in ("https", "http"):
        raise IrsaError(f'unsupported URL scheme "{scheme}"')
    account = str(cluster["arn"]).split(":")[4]
    hostpath = issuer.split("://", 1)[1]
    return ClusterOidc(name, region, account, issuer, f"arn:aws:iam::{account}:oidc-provider/{hostpath}")


def provider_exists(iam: Any, oidc: ClusterOidc) -> bool:
    try:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc.provider_arn)
    except Exception as exc:
        if _code(exc) == "NoSuchEntity":
            return False
        raise
    return True


def associate_oidc_provider(
    iam: Any, eks: Any, name: str, region: str, approve: bool, log: Log
) -> ClusterOidc:
    oidc = cluster_oidc(eks, name, region)
    where = f'cluster "{name}" in "{region}"'
    if provider_exists(iam, oidc):
        log.info(f"IAM Open ID Connect provider is already associated with {where}")
        return oidc
    log.info(f"will create IAM Open ID Connect provider for {where}")
    if not approve:
        log.warning(NO_CHANGES)
        return oidc
    iam.create_open_id_connect_provider(
        Url=oidc.issuer,
        ClientIDList=[STS_AUDIENCE],
        Tags=[{"Key": TAG_CLUSTER, "Value": name}, {"Key": TAG_VERSION, "Value": EKSCTL_VERSION}],
    )
    cluster_arn = eks.describe_cluster(name=name)["cluster"]["arn"]
    eks.tag_resource(resourceArn=cluster_arn, tags={"alpha.eksctl.io/cluster-oidc-enabled": "true"})
    log.success(f"created IAM Open ID Connect provider for {where}")
    return oidc


def irsa_trust_policy(oidc: ClusterOidc, namespace: str, service_account: str) -> dict[str, Any]:
    """eksctl's trust document for one service account (`pkg/iam/oidc/api.go`)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc.provider_arn},
                "Action": ["sts:AssumeRoleWithWebIdentity"],
                "Condition": {
                    "StringEquals": {
                        f"{oidc.hostpath}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{oidc.hostpath}:aud": STS_AUDIENCE,
                    }
                },
            }
        ],
    }


def default_role_name(cluster: str, namespace: str, service_account: str) -> str:
    """The name CloudFormation gives the stack's role: `<stack>-Role1-<12 random>`, within 64."""
    base = f"eksctl-{cluster}-addon-iamserviceaccount-{namespace}-{service_account}-Role1"
    suffix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))
    return f"{base[: 64 - 13]}-{suffix}"


def _service_account(kube: KubeWriter, namespace: str, name: str) -> dict[str, Any] | None:
    return next(
        (o for o in kube.objects("ServiceAccount", namespace) if o["metadata"].get("name") == name), None
    )


def _sa_document(
    current: dict[str, Any] | None, namespace: str, name: str, annotations: dict[str, str]
) -> dict[str, Any]:
    """The ServiceAccount to apply: the current one's labels and fields, with `annotations`."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if current is not None and current["metadata"].get("labels"):
        meta["labels"] = dict(current["metadata"]["labels"])
    if annotations:
        meta["annotations"] = annotations
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    if current is not None and "automountServiceAccountToken" in current:
        doc["automountServiceAccountToken"] = current["automountServiceAccountToken"]
    return doc


def _annotations(obj: dict[str, Any] | None) -> dict[str, str]:
    found = dict(((obj or {}).get("metadata") or {}).get("annotations") or {})
    found.pop(LAST_APPLIED, None)
    return found


def create_iam_service_account(
    iam: Any,
    eks: Any,
    kube: KubeWriter,
    *,
    cluster: str,
    region: str,
    namespace: str,
    name: str,
    policy_arns: Sequence[str],
    role_name: str | None,
    role_only: bool,
    override_existing: bool,
    approve: bool,
    log: Log,
    inline_policy: dict[str, Any] | None = None,
) -> str | None:
    """Returns the role ARN (None in plan mode)."""
    oidc = cluster_oidc(eks, cluster, region)
    if not provider_exists(iam, oidc):
        raise IrsaError("unable to create iamserviceaccount(s) without IAM OIDC provider enabled")
    if not policy_arns and not inline_policy:
        raise IrsaError("--attach-policy-arn must be set")
    ref = f"{namespace}/{name}"
    log.info(f"1 iamserviceaccount ({ref}) was included (based on the include/exclude rules)")
    if not approve:
        log.info(f"will create IAM role for serviceaccount \"{ref}\" and {'not ' if role_only else ''}"
                 "create the serviceaccount")  # fmt: skip
        log.warning(NO_CHANGES)
        return None
    role = role_name or default_role_name(cluster, namespace, name)
    created = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(irsa_trust_policy(oidc, namespace, name)),
        Tags=[
            {"Key": TAG_CLUSTER, "Value": cluster},
            {"Key": TAG_SA, "Value": ref},
            {"Key": TAG_VERSION, "Value": EKSCTL_VERSION},
        ],
    )["Role"]
    for arn in policy_arns:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    if inline_policy:
        iam.put_role_policy(RoleName=role, PolicyName="Policy1", PolicyDocument=json.dumps(inline_policy))
    log.success(f'created IAM role "{role}" for serviceaccount "{ref}"')
    if role_only:
        return str(created["Arn"])
    current = _service_account(kube, namespace, name)
    if current is not None and not override_existing:
        log.warning(
            f'serviceaccount "{ref}" already exists; use --override-existing-serviceaccounts to annotate it'
        )
        return str(created["Arn"])
    if not kube.objects("Namespace") or not any(
        n["metadata"]["name"] == namespace for n in kube.objects("Namespace")
    ):
        kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
        log.info(f'created namespace "{namespace}"')
    annotations = {**_annotations(current), ROLE_ARN_ANNOTATION: str(created["Arn"])}
    kube.apply([_sa_document(current, namespace, name, annotations)])
    log.info(f'{"annotated" if current is not None else "created"} serviceaccount "{ref}"')
    return str(created["Arn"])


@dataclass(frozen=True)
class IamServiceAccount:
    namespace: str
    name: str
    role_arn: str
    role_name: str


def list_iam_service_accounts(iam: Any, cluster: str) -> list[IamServiceAccount]:
    """The roles eksctl made for this cluster's service accounts (found by their tags)."""
    found: list[IamServiceAccount] = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
            if tags.get(TAG_CLUSTER) == cluster and TAG_SA in tags:
                namespace, _, name = tags[TAG_SA].partition("/")
                found.append(IamServiceAccount(namespace, name, role["Arn"], role["RoleName"]))
    return sorted(found, key=lambda s: (s.namespace, s.name))


def delete_iam_service_account(
    iam: Any, kube: KubeObjects, *, cluster: str, namespace: str, name: str, approve: bool, log: Log
) -> None:
    ref = f"{namespace}/{name}"
    matches = [
        s for s in list_iam_service_accounts(iam, cluster) if (s.namespace, s.name) == (namespace, name)
    ]
    if not matches:
        raise IrsaError(f'iamserviceaccount "{ref}" not found in cluster "{cluster}"')
    log.info(f"1 iamserviceaccount ({ref}) was included (based on the include/exclude rules)")
    if not approve:
        log.warning(NO_CHANGES)
        return
    for sa in matches:
        _delete_role(iam, sa.role_name)
        log.info(f'deleted IAM role "{sa.role_name}"')
    if _service_account(kube, namespace, name) is not None:
        kube.delete("ServiceAccount", namespace, name)
        log.info(f'deleted serviceaccount "{ref}"')


def _delete_role(iam: Any, name: str) -> None:
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    iam.delete_role(RoleName=name)


def _listify(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement as eksctl re-marshals it: Principal values and Action as JSON lists."""
    out = dict(statement)
    principal = out.get("Principal")
    if isinstance(principal, dict):
        out["Principal"] = {k: v if isinstance(v, list) else [v] for k, v in principal.items()}
    for key in ("Action", "NotAction"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    return out


def _is_oidc_statement(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or set(principal) != {"Federated"}:
        return False
    federated = principal["Federated"]
    values = federated if isinstance(federated, list) else [federated]
    return len(values) == 1 and "oidc-provider" in str(values[0])


def migrated_trust(document: str, remove_oidc_trust: bool) -> str:
    """The trust policy after the migration (the Pod Identity statement appended once)."""
    policy = json.loads(document)
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    kept = [_listify(s) for s in statements if not (remove_oidc_trust and _is_oidc_statement(s))]

    def names_pods(s: dict[str, Any]) -> bool:
        service = (s.get("Principal") or {}).get("Service") if isinstance(s.get("Principal"), dict) else None
        return "pods.eks.amazonaws.com" in (service or [])

    if not any(names_pods(s) for s in kept):
        kept.append(dict(POD_IDENTITY_STATEMENT))
    return json.dumps({"Version": policy.get("Version", "2012-10-17"), "Statement": kept})


@dataclass(frozen=True)
class Migration:
    namespace: str
    service_account: str
    role_arn: str


def migrate_to_pod_identity(
    iam: Any,
    eks: Any,
    kube: KubeObjects,
    *,
    cluster: str,
    region: str,
    approve: bool,
    remove_oidc_trust: bool,
    log: Log,
    sleep: Callable[[float], None] | None = None,
) -> list[Migration]:
    """Plan (and with `approve`, run) the migration; returns the service accounts concerned."""
    oidc = cluster_oidc(eks, cluster, region)
    if not provider_exists(iam, oidc):
        log.warning(
            f'IAM Open ID Connect provider is not associated with cluster "{cluster}"; '
            "there are no IRSA service accounts to migrate"
        )
        return []
    addons = eks.list_addons(clusterName=cluster).get("addons") or []
    plan: list[Migration] = []
    for sa in kube.objects("ServiceAccount"):
        role_arn = _annotations(sa).get(ROLE_ARN_ANNOTATION)
        if role_arn:
            plan.append(Migration(sa["metadata"]["namespace"], sa["metadata"]["name"], role_arn))
    plan.sort(key=lambda m: (m.namespace, m.service_account))
    if POD_IDENTITY_AGENT not in addons:
        log.info(f"will install {POD_IDENTITY_AGENT} addon")
    for m in plan:
        role_name = m.role_arn.rsplit("/", 1)[-1]
        log.info(f'will update trust policy for IAM role "{role_name}" to allow pods.eks.amazonaws.com')
        if remove_oidc_trust:
            log.info(
                f'will remove the OIDC trust relationship from IAM role "{role_name}" and the '
                f'{ROLE_ARN_ANNOTATION} annotation from serviceaccount "{m.namespace}/{m.service_account}"'
            )
        log.info(
            f'will create pod identity association for service account "{m.namespace}/{m.service_account}"'
        )
    if not plan:
        log.info("no iamserviceaccounts found to migrate")
    if not approve:
        log.warning(NO_CHANGES)
        return plan
    if POD_IDENTITY_AGENT not in addons:
        eks.create_addon(clusterName=cluster, addonName=POD_IDENTITY_AGENT)
        log.success(f"installed {POD_IDENTITY_AGENT} addon")
    existing = {
        (a["namespace"], a["serviceAccount"])
        for page in eks.get_paginator("list_pod_identity_associations").paginate(clusterName=cluster)
        for a in page["associations"]
    }
    for m in plan:
        role_name = m.role_arn.rsplit("/", 1)[-1]
        trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
        document = trust if isinstance(trust, str) else json.dumps(trust)
        iam.update_assume_role_policy(
            RoleName=role_name, PolicyDocument=migrated_trust(document, remove_oidc_trust)
        )
        log.success(f'updated trust policy for IAM role "{role_name}"')
        ref = f"{m.namespace}/{m.service_account}"
        if remove_oidc_trust:
            current = _service_account(kube, m.namespace, m.service_account)
            annotations = {k: v for k, v in _annotations(current).items() if k != ROLE_ARN_ANNOTATION}
            kube.apply([_sa_document(current, m.namespace, m.service_account, annotations)])
            log.info(f'removed {ROLE_ARN_ANNOTATION} annotation from serviceaccount "{ref}"')
        if (m.namespace, m.service_account) in existing:
            log.warning(f'pod identity association for "{ref}" already exists; skipping')
            continue
        eks.create_pod_identity_association(
            clusterName=cluster, namespace=m.namespace, serviceAccount=m.service_account, roleArn=m.role_arn
        )
        log.success(f'created pod identity association for service account "{ref}"')
    return plan


def apply_cluster_config_iam(
    iam: Any,
    eks: Any,
    kube: KubeWriter,
    *,
    cluster: str,
    region: str,
    with_oidc: bool,
    service_accounts: Sequence[dict[str, Any]],
    log: Log,
) -> None:
    """ClusterConfig `iam.withOIDC` and `iam.serviceAccounts`, after the control plane is ready
    (eksctl's "associate IAM OIDC provider" task, then one iamserviceaccount per entry).
    Entries: `metadata.{name,namespace}`, `attachPolicyARNs`, `attachPolicy` (inline), `roleName`,
    `roleOnly`; `wellKnownPolicies` and `attachRoleARN` are refused (podid does not model them)."""
    if not with_oidc:
        return
    associate_oidc_provider(iam, eks, cluster, region, True, log)
    for i, entry in enumerate(service_accounts):
        meta = entry.get("metadata") or {}
        for unsupported in ("wellKnownPolicies", "attachRoleARN"):
            if entry.get(unsupported):
                raise IrsaError(f"iam.serviceAccounts[{i}].{unsupported} is not supported by podid")
        create_iam_service_account(
            iam,
            eks,
            kube,
            cluster=cluster,
            region=region,
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or ""),
            policy_arns=[str(a) for a in entry.get("attachPolicyARNs") or ()],
            inline_policy=entry.get("attachPolicy") or None,
            role_name=entry.get("roleName") or None,
            role_only=bool(entry.get("roleOnly")),
            override_existing=True,
            approve=True,
            log=log,
        )


def delete_cluster_iam(iam: Any, eks: Any, cluster: str, region: str, log: Log) -> None:
    """What `eksctl delete cluster` adds for IRSA (`pkg/cfn/manager/delete_tasks.go`): the cluster's
    iamserviceaccount roles, then its IAM OIDC provider if one exists. Runs while the cluster still
    exists (its issuer names the provider)."""
    for sa in list_iam_service_accounts(iam, cluster):
        _delete_role(iam, sa.role_name)
        log.info(f'deleted IAM role "{sa.role_name}" of iamserviceaccount "{sa.namespace}/{sa.name}"')
    oidc = cluster_oidc(eks, cluster, region)
    if provider_exists(iam, oidc):
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc.provider_arn)
        log.info(f'deleted IAM Open ID Connect provider for cluster "{cluster}" in "{region}"')
