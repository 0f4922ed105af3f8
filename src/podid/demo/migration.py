"""`podid demo --migration`: the walkthrough's app on IRSA first, then migrated to Pod Identity.

The steps follow the AWS documentation's migration order (IRSA reference §5.2; docs/irsa-to-pod-identity.md):

1. the guide's cluster (`eksctl create cluster -f cluster.yaml`, with the Pod Identity Agent add-on);
2. IRSA: `eksctl utils associate-iam-oidc-provider`, a role trusting the cluster's OIDC provider for
   demo-ns/demo-sa (`eksctl create iamserviceaccount --role-only`), `demo-app.yaml` with the role in
   its `eks.amazonaws.com/role-arn` annotation and no association: pods get `AWS_ROLE_ARN` and
   `AWS_WEB_IDENTITY_TOKEN_FILE`; `aws sts get-caller-identity` shows a `botocore-session-<epoch>`
   session (botocore's web-identity provider calling AssumeRoleWithWebIdentity);
3. `eksctl utils migrate-to-pod-identity` (plan, then `--approve`): the role also trusts
   `pods.eks.amazonaws.com`, the association exists;
4. running pods keep IRSA (the webhook mutates pods only when they are created);
5. the pods are re-created: Pod Identity env, an `eks-<cluster>-<pod>-<uuid>` session, session tags;
6. clean-up: the OIDC trust and the annotation removed (`--remove-oidc-provider-trust-relationship`),
   then `eksctl delete cluster` (the cluster, the iamserviceaccount role, the OIDC provider); nothing left.

The aws CLI inside the pods runs with `HOME=/tmp` while on IRSA: the CLI caches web-identity
credentials under `~/.aws/cli/cache`, and the guide's pods run as uid 1 whose home is not writable
(`[Errno 13] Permission denied: '<home>/.aws'`, as on EKS: aws/aws-cli#9075).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from podid.demo.runner import Result, Sandbox, Shell, Transcript

CLUSTER = "eks-pod-identity-demo"
ROLE = "s3-app-irsa-role"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
IRSA_ENV = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
POD_IDENTITY_ENV = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")


def _err(result: Result) -> str:
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[-1][:200] if text and result.code != 0 else ""


def _pods(result: Result) -> list[str]:
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    return [
        r[0]
        for r in rows
        if len(r) >= 3
        and r[0].startswith("awscli-app-")
        and r[2] == "Running"
        and r[1].split("/")[0] == r[1].split("/")[1]
    ]


def _env_names(result: Result) -> set[str]:
    return {line.split("=", 1)[0] for line in result.stdout.splitlines() if "=" in line}


@dataclass
class MigrationDemo:
    sandbox: Sandbox
    shell: Shell
    t: Transcript

    def run(self) -> None:
        self.t.section("IRSA to EKS Pod Identity: the walkthrough's app, migrated")
        if not self._cluster():
            return
        try:
            pods = self._irsa()
            if pods:
                self._migrate()
                self._old_pods_keep_irsa(pods[0])
                new = self._recreate(pods)
                if new:
                    self._pod_identity(new[0])
        finally:
            self._cleanup()

    # 1 -------------------------------------------------------------------------------------------
    def _cluster(self) -> bool:
        self.t.begin("Step 1: Create the guide's cluster (eksctl, cluster.yaml unchanged)")
        result = self.shell.run("podid eksctl create cluster -f cluster.yaml", timeout=180)
        return self.t.expect(
            f'EKS cluster "{CLUSTER}" is ready',
            result.code == 0 and f'EKS cluster "{CLUSTER}"' in result.stderr,
            f"exit {result.code}",
        )

    # 2 -------------------------------------------------------------------------------------------
    def _irsa(self) -> list[str]:
        t, sh = self.t, self.shell
        t.begin(
            "Step 2: IRSA as it was before the migration",
            "The cluster's OIDC issuer becomes an IAM OIDC identity provider; the role trusts it for "
            "demo-ns/demo-sa; the service account carries the role's ARN; there is no association.",
        )
        result = sh.run(f"podid eksctl utils associate-iam-oidc-provider --cluster {CLUSTER} --approve")
        t.expect(
            "the IAM OIDC provider is created",
            result.code == 0 and "created IAM Open ID Connect" in result.stderr,
            _err(result),
        )
        result = sh.run("aws iam list-open-id-connect-providers")
        t.expect(
            "list-open-id-connect-providers shows it",
            result.code == 0 and "oidc-provider/" in result.stdout,
            _err(result),
        )
        result = sh.typed(
            f"podid eksctl create iamserviceaccount --cluster {CLUSTER}",
            "--namespace demo-ns --name demo-sa",
            f"--role-name {ROLE} --attach-policy-arn {S3_READ_ONLY}",
            "--role-only --approve",
        )
        t.expect("the IRSA role is created", result.code == 0, _err(result))
        result = sh.run(f"aws iam get-role --role-name {ROLE} --query Role.AssumeRolePolicyDocument")
        t.expect(
            "its trust policy names the OIDC provider, with :sub and :aud conditions",
            result.code == 0 and "Federated" in result.stdout and ":sub" in result.stdout,
            _err(result),
        )
        role_arn = f"arn:aws:iam::{self.sandbox.account_id}:role/{ROLE}"
        sh.vars["POD_ROLE_ARN"] = role_arn
        t.command(f"export POD_ROLE_ARN={role_arn}")
        result = sh.run(
            "sed 's|$POD_ROLE_ARN|'\"$POD_ROLE_ARN\"'|' demo-app.yaml | podid kubectl apply -f -",
            "envsubst < demo-app.yaml | podid kubectl apply -f -",
        )
        t.expect(
            "demo-app.yaml applied (annotation with the role, no association)", result.code == 0, _err(result)
        )
        result = sh.poll("podid kubectl get pods -n demo-ns", lambda r: len(_pods(r)) >= 2, 60)
        t.command("podid kubectl get pods -n demo-ns")
        t.output(result)
        pods = _pods(result)
        if not t.expect("two awscli-app pods Running", len(pods) == 2, f"{len(pods)} running"):
            return []
        pod = pods[0]
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- sh -c 'env | grep ^AWS_ | sort'")
        names = _env_names(result)
        t.expect(
            "the webhook injected IRSA's env (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
            set(IRSA_ENV) <= names and not set(POD_IDENTITY_ENV) & names,
            ", ".join(sorted(names)),
        )
        t.note(
            "The aws CLI caches web-identity credentials in ~/.aws/cli/cache; uid 1 has no writable home, "
            "so (as on EKS) the CLI runs with HOME=/tmp here."
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- env HOME=/tmp aws sts get-caller-identity")
        arn = _arn(result)
        t.expect(
            f"the caller is assumed-role/{ROLE}/botocore-session-<epoch> (botocore's web-identity provider)",
            re.fullmatch(rf"arn:aws:sts::\d{{12}}:assumed-role/{ROLE}/botocore-session-\d+", arn) is not None,
            arn or _err(result),
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- env HOME=/tmp aws s3 ls")
        t.expect("`aws s3 ls` succeeds on IRSA", result.code == 0, _err(result))
        return pods

    # 3 -------------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        t, sh = self.t, self.shell
        t.begin("Step 3: Migrate with eksctl", "First the plan (nothing changes), then --approve.")
        result = sh.run(f"podid eksctl utils migrate-to-pod-identity --cluster {CLUSTER}")
        t.expect(
            "the plan names demo-ns/demo-sa",
            result.code == 0 and "demo-ns/demo-sa" in result.stderr,
            _err(result),
        )
        result = sh.run(f"podid eksctl utils migrate-to-pod-identity --cluster {CLUSTER} --approve")
        t.expect("the migration is applied", result.code == 0, _err(result))
        result = sh.run(f"aws eks list-pod-identity-associations --cluster-name {CLUSTER}")
        associations = _json(result).get("associations") or []
        t.expect(
            "an association demo-ns/demo-sa exists",
            [(a.get("namespace"), a.get("serviceAccount")) for a in associations] == [("demo-ns", "demo-sa")],
            _err(result),
        )
        result = sh.run(
            f"aws iam get-role --role-name {ROLE} --query Role.AssumeRolePolicyDocument.Statement"
        )
        principals = [s.get("Principal") for s in _json_list(result)]
        t.expect(
            "the role trusts both the OIDC provider and pods.eks.amazonaws.com (the IRSA trust stays)",
            len(principals) == 2 and principals[1] == {"Service": ["pods.eks.amazonaws.com"]},
            json.dumps(principals),
        )

    # 4 -------------------------------------------------------------------------------------------
    def _old_pods_keep_irsa(self, pod: str) -> None:
        t, sh = self.t, self.shell
        t.begin(
            "Step 4: Running pods keep IRSA",
            "The webhook mutates pods when they are created: a running pod is not migrated.",
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- sh -c 'env | grep ^AWS_ | sort'")
        names = _env_names(result)
        t.expect(
            "the old pod still has IRSA's env and no Pod Identity env",
            set(IRSA_ENV) <= names and not set(POD_IDENTITY_ENV) & names,
            ", ".join(sorted(names)),
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- env HOME=/tmp aws sts get-caller-identity")
        t.expect(
            "and still a botocore-session-... session", "/botocore-session-" in _arn(result), _err(result)
        )

    # 5 -------------------------------------------------------------------------------------------
    def _recreate(self, old: list[str]) -> list[str]:
        t, sh = self.t, self.shell
        t.begin("Step 5: Re-create the pods (the Deployment replaces them)")
        result = sh.run(f"podid kubectl delete pod -n demo-ns {' '.join(old)}")
        t.expect("the old pods are deleted", result.code == 0, _err(result))

        def replaced(r: Result) -> bool:
            current = _pods(r)
            return len(current) == 2 and not set(current) & set(old)

        result = sh.poll("podid kubectl get pods -n demo-ns", replaced, 60)
        t.command("podid kubectl get pods -n demo-ns")
        t.output(result)
        ok = t.expect("two new awscli-app pods Running", replaced(result), result.stdout.strip()[-200:])
        return _pods(result) if ok else []

    def _pod_identity(self, pod: str) -> None:
        t, sh = self.t, self.shell
        t.begin(
            "Step 6: The new pods use Pod Identity",
            "The service account still has the annotation, but with an association Pod Identity wins.",
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- sh -c 'env | grep ^AWS_ | sort'")
        names = _env_names(result)
        t.expect(
            "Pod Identity env, no IRSA env",
            set(POD_IDENTITY_ENV) <= names and not set(IRSA_ENV) & names,
            ", ".join(sorted(names)),
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- aws sts get-caller-identity")
        arn = _arn(result)
        t.expect(
            f"the caller is assumed-role/{ROLE}/eks-<cluster>-<pod>-<uuid> (names shortened to fit)",
            re.fullmatch(
                rf"arn:aws:sts::{self.sandbox.account_id}:assumed-role/{ROLE}/eks-[\w.@=,-]+-"
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                arn,
            )
            is not None,
            arn or _err(result),
        )
        script = "import boto3; print(boto3.Session().get_credentials().get_frozen_credentials().token)"
        result = sh.run(f'podid kubectl exec -n demo-ns {pod} -- python -c "{script}"', quiet=True)
        tags = self._session_tags(result.stdout.strip())
        if tags:
            t.note("session tags of the pod's credentials (read by the demo from the session token):")
            for key in sorted(tags):
                t.note(f"  {key} = {tags[key]}")
        t.expect(
            "six session tags (eks-cluster-arn, eks-cluster-name, kubernetes-namespace, "
            "kubernetes-service-account, kubernetes-pod-name, kubernetes-pod-uid)",
            tags.get("kubernetes-namespace") == "demo-ns"
            and tags.get("kubernetes-pod-name") == pod
            and len(tags) == 6,
            json.dumps(tags),
        )
        result = sh.run(f"podid kubectl exec -n demo-ns {pod} -- aws s3 ls")
        t.expect(
            "`aws s3 ls` succeeds on Pod Identity (no HOME workaround needed)", result.code == 0, _err(result)
        )

    def _session_tags(self, token: str) -> dict[str, str]:
        """The demo's own check: decode the session token with the state directory's key."""
        from podid.services.sts.token import SessionTokenCodec, TokenInvalid

        try:
            key = bytes.fromhex(json.loads((self.sandbox.state_dir / "config.json").read_text())["token_key"])
            return dict(SessionTokenCodec(key).decode(token).session.tags)
        except (OSError, ValueError, KeyError, TokenInvalid):
            return {}

    # 6 -------------------------------------------------------------------------------------------
    def _cleanup(self) -> None:
        t, sh = self.t, self.shell
        t.begin("Step 7: Finish the migration and clean up")
        result = sh.typed(
            f"podid eksctl utils migrate-to-pod-identity --cluster {CLUSTER} --approve",
            "--remove-oidc-provider-trust-relationship",
        )
        t.expect("the OIDC trust and the role-arn annotation are removed", result.code == 0, _err(result))
        result = sh.run(
            "aws iam get-role --role-name s3-app-irsa-role --query Role.AssumeRolePolicyDocument.Statement"
        )
        principals = [s.get("Principal") for s in _json_list(result)]
        t.expect(
            "the role now trusts only pods.eks.amazonaws.com",
            principals == [{"Service": ["pods.eks.amazonaws.com"]}],
            json.dumps(principals),
        )
        result = sh.run(f"podid eksctl delete cluster --name {CLUSTER}", timeout=180)
        t.expect(
            "`eksctl delete cluster` deletes the cluster, the iamserviceaccount role and the OIDC provider",
            result.code == 0
            and "deleted IAM Open ID Connect provider" in result.stderr
            and f'deleted IAM role "{ROLE}"' in result.stderr,
            _err(result),
        )
        try:
            left = self.sandbox.leftovers()
            providers = self.sandbox.client("iam").list_open_id_connect_providers()[
                "OpenIDConnectProviderList"
            ]
            if providers:
                left = ", ".join([left, *(p["Arn"] for p in providers)]).strip(", ")
        except Exception as exc:  # the endpoint itself failed: report it, do not crash the demo
            left = f"cannot list: {exc}"
        t.expect("no cluster, no role and no OIDC provider remain", not left, left)


def _json(result: Result) -> dict[str, Any]:
    try:
        value = json.loads(result.stdout)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _json_list(result: Result) -> list[dict[str, Any]]:
    try:
        value = json.loads(result.stdout)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _arn(result: Result) -> str:
    return str(_json(result).get("Arn", ""))
