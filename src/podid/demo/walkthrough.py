"""The walkthrough's steps, Option 1 (eksctl) then Option 2 (CloudFormation), with their expected outcomes.

Each step prints the guide's command as typed (`kubectl`/`eksctl` are `podid kubectl`/`podid
eksctl`; `aws` is the aws CLI v1) and its real output, then checks what the guide says must
happen. A failed step is reported and the demo goes on to the cleanup, so that a failure never
leaves anything behind; the exit status says whether every expectation held.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from podid.demo.runner import Result, Sandbox, Shell, Transcript

CLUSTER = "eks-pod-identity-demo"
ROLE = "s3-app-eks-pod-identity-role"
STACK = "eks-pod-identity-demo"
AGENT_SELECTOR = "app.kubernetes.io/name=eks-pod-identity-agent"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def _running_rows(result: Result, prefix: str) -> list[list[str]]:
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    return [r for r in rows if r and r[0].startswith(prefix) and len(r) >= 3 and r[2] == "Running"]


def _ready(rows: list[list[str]]) -> bool:
    return all(r[1].split("/")[0] == r[1].split("/")[1] for r in rows)


@dataclass
class Walkthrough:
    sandbox: Sandbox
    shell: Shell
    t: Transcript

    # --- shared steps ---------------------------------------------------------------------------------
    def step2_agents(self) -> bool:
        self.t.begin("Step 2: Verify Pod Identity Agent", "Ensure the agent pods are running:")
        command = f"podid kubectl get pods -n kube-system --selector {AGENT_SELECTOR}"
        # polled quietly until the agents run and are ready (as a person re-runs it), then shown once:
        # with CloudFormation the stack completes before the agents' readiness probes have passed
        result = self.shell.poll(
            command,
            lambda r: (
                len(_running_rows(r, "eks-pod-identity-agent-")) >= 2
                and _ready(_running_rows(r, "eks-pod-identity-agent-"))
            ),
            40,
        )
        self.t.command(f"podid kubectl get pods -n kube-system \\\n    --selector {AGENT_SELECTOR}")
        self.t.output(result)
        rows = _running_rows(result, "eks-pod-identity-agent-")
        return self.t.expect(
            "two eks-pod-identity-agent pods, 1/1 Running (one per node)",
            result.code == 0 and len(rows) == 2 and _ready(rows),
            f"exit {result.code}, {len(rows)} running",
        )

    def step5_deploy(self) -> list[str]:
        self.t.begin("Step 5: Deploy the Demo Application")
        result = self.shell.run("podid kubectl apply -f demo-app.yaml")
        self.t.expect(
            "namespace, service account and deployment created",
            result.code == 0
            and result.stdout.split()
            == [
                "namespace/demo-ns",
                "created",
                "serviceaccount/demo-sa",
                "created",
                "deployment.apps/awscli-app",
                "created",
            ],
            f"exit {result.code}",
        )
        command = "podid kubectl get pods -n demo-ns"
        result = self.shell.poll(
            command,
            lambda r: len(_running_rows(r, "awscli-app-")) >= 2 and _ready(_running_rows(r, "awscli-app-")),
            40,
        )
        self.t.command(command)
        self.t.output(result)
        rows = _running_rows(result, "awscli-app-")
        self.t.expect(
            "two awscli-app pods Running and ready", len(rows) == 2 and _ready(rows), f"{len(rows)} running"
        )
        return [r[0] for r in rows]

    def step6_tests(self, pods: list[str], role_name: str) -> None:
        self.t.begin(
            "Step 6: Test AWS Access", "Exec into a pod and run the three tests (aws CLI inside the pod):"
        )
        if not pods:
            self.t.expect("a running pod to exec into", False, "no pod is running")
            return
        pod = pods[0]
        exec_prefix = f"podid kubectl exec -n demo-ns {pod} --"
        # 1. List S3 buckets (should succeed)
        result = self.shell.run(f"{exec_prefix} aws s3 ls")
        if result.code == 0 and not result.stdout.strip():
            self.t.note("(no output: the account has no buckets yet; the call succeeded)")
        self.t.expect(
            "1. `aws s3 ls` succeeds (s3:ListAllMyBuckets allowed by AmazonS3ReadOnlyAccess)",
            result.code == 0,
            _err(result),
        )
        # 2. Check assumed role
        result = self.shell.run(f"{exec_prefix} aws sts get-caller-identity")
        arn = ""
        try:
            identity = json.loads(result.stdout)
            arn = str(identity.get("Arn", ""))
        except ValueError:
            identity = {}
        pattern = rf"^arn:aws:sts::{self.sandbox.account_id}:assumed-role/{re.escape(role_name)}/eks-."
        self.t.expect(
            f"2. the caller is arn:aws:sts::{self.sandbox.account_id}:assumed-role/{role_name}/eks-...",
            result.code == 0 and re.match(pattern, arn) is not None,
            arn or _err(result),
        )
        # 3. Attempt to create a bucket (should FAIL)
        result = self.shell.run(f"{exec_prefix} sh -c 'aws s3 mb s3://my-test-bucket-$(date +%s)'")
        self.t.expect(
            "3. `aws s3 mb` fails with AccessDenied (read-only role)",
            result.code != 0 and "AccessDenied" in result.stderr + result.stdout,
            _err(result) or "it succeeded",
        )

    # --- Option 1 -----------------------------------------------------------------------------------
    def option1(self) -> None:
        t, sh = self.t, self.shell
        t.section("Option 1: eksctl")
        t.begin(
            "Step 1: Create an EKS Cluster (Option 1: eksctl)", "cluster.yaml is the guide's file, unchanged."
        )
        sh.run("cat cluster.yaml")
        result = sh.run("podid eksctl create cluster -f cluster.yaml", timeout=120)
        created = t.expect(
            f'`eksctl create cluster` ends with "EKS cluster "{CLUSTER}" ... is ready"',
            result.code == 0
            and f'EKS cluster "{CLUSTER}" in "{self.sandbox.region}" region is ready' in result.stderr,
            f"exit {result.code}",
        )
        association_id = ""
        if created:
            self.step2_agents()

            t.begin("Step 3: Create an IAM Role", "Trust policy (eks-pod-identity-trust-policy.json):")
            sh.run("cat eks-pod-identity-trust-policy.json")
            create_role = (
                f"aws iam create-role --role-name {ROLE} "
                "--assume-role-policy-document file://eks-pod-identity-trust-policy.json "
                "--output text --query 'Role.Arn'"
            )
            shown = (
                "export POD_ROLE_ARN=$(aws iam create-role \\\n"
                f"    --role-name {ROLE} \\\n"
                "    --assume-role-policy-document file://eks-pod-identity-trust-policy.json \\\n"
                "    --output text --query 'Role.Arn')"
            )
            t.command(shown)
            result = sh.run(create_role, quiet=True)
            role_arn = result.stdout.strip()
            sh.vars["POD_ROLE_ARN"] = role_arn
            sh.run('echo "$POD_ROLE_ARN"')
            t.expect(
                f"the role ARN is arn:aws:iam::{self.sandbox.account_id}:role/{ROLE}",
                result.code == 0 and role_arn == f"arn:aws:iam::{self.sandbox.account_id}:role/{ROLE}",
                _err(result) or role_arn,
            )
            result = sh.typed(
                "aws iam attach-role-policy",
                f"--role-name {ROLE}",
                f"--policy-arn {S3_READ_ONLY}",
            )
            t.expect("AmazonS3ReadOnlyAccess attached", result.code == 0, _err(result))

            t.begin("Step 4: Associate the Role with EKS")
            sh.vars.update(CLUSTER_NAME=CLUSTER, AWS_REGION=self.sandbox.region)
            sh.run('echo "CLUSTER_NAME=$CLUSTER_NAME AWS_REGION=$AWS_REGION"')
            result = sh.typed(
                "aws eks create-pod-identity-association",
                "--cluster-name $CLUSTER_NAME",
                "--namespace demo-ns",
                "--service-account demo-sa",
                "--role-arn $POD_ROLE_ARN",
                "--region $AWS_REGION",
            )
            try:
                association_id = str(json.loads(result.stdout)["association"]["associationId"])
            except (ValueError, KeyError, TypeError):
                association_id = ""
            t.expect(
                "the association is created (an a-... id)",
                result.code == 0 and association_id.startswith("a-"),
                _err(result),
            )

            pods = self.step5_deploy()
            self.step6_tests(pods, ROLE)

        t.begin("Cleanup (Option 1)")
        if association_id:
            result = sh.typed(
                "aws eks delete-pod-identity-association",
                "--cluster-name $CLUSTER_NAME",
                f"--association-id {association_id}",
            )
            t.expect("the association is deleted", result.code == 0, _err(result))
        if "POD_ROLE_ARN" in sh.vars:
            result = sh.run(f"aws iam delete-role --role-name {ROLE}")
            t.expect(
                "delete-role before detaching fails with DeleteConflict, as in AWS",
                result.code != 0 and "DeleteConflict" in result.stderr,
                _err(result) or "it succeeded",
            )
            result = sh.typed(
                "aws iam detach-role-policy", f"--role-name {ROLE}", f"--policy-arn {S3_READ_ONLY}"
            )
            t.expect("the policy is detached", result.code == 0, _err(result))
            result = sh.run(f"aws iam delete-role --role-name {ROLE}")
            t.expect("the role is deleted", result.code == 0, _err(result))
        result = sh.run(f"podid eksctl delete cluster --name {CLUSTER}", timeout=120)
        t.expect(
            "`eksctl delete cluster` deletes everything",
            result.code == 0 and "all cluster resources were deleted" in result.stderr,
            f"exit {result.code}",
        )
        self._nothing_left()

    # --- Option 2 -----------------------------------------------------------------------------------
    def option2(self) -> None:
        t, sh = self.t, self.shell
        t.section("Option 2: CloudFormation")
        t.begin(
            "Step 1: Create an EKS Cluster (Option 2: CloudFormation)",
            "eks-pod-identity.yaml: the cluster with the agent add-on, a node group, the role and the "
            "association.",
        )
        if not (self.sandbox.work / "eks-pod-identity.yaml").exists():
            t.expect("examples/eks-pod-identity.yaml exists", False, "the template is missing")
            return
        sh.run("sed -n '/^  EKSPodIdentityAssociation:/,/RoleArn/p' eks-pod-identity.yaml")
        result = sh.typed(
            "aws cloudformation deploy --template-file eks-pod-identity.yaml",
            f"--stack-name {STACK}",
            "--capabilities CAPABILITY_NAMED_IAM",
            timeout=120,
        )
        deployed = t.expect("`aws cloudformation deploy` succeeds", result.code == 0, _err(result))
        if deployed:
            result = sh.typed(
                f"aws cloudformation describe-stacks --stack-name {STACK}",
                "--query 'Stacks[0].StackStatus' --output text",
            )
            t.expect(
                "the stack is CREATE_COMPLETE",
                result.stdout.strip() == "CREATE_COMPLETE",
                result.stdout.strip(),
            )
            agents = self.step2_agents()
            t.note(
                "IMPORTANT: with CloudFormation (Option 2), skip to Step 5: "
                "the template made the role and the association."
            )
            role_name = self._association_role()
            if agents:
                pods = self.step5_deploy()
                self.step6_tests(pods, role_name or "<the stack's role>")

        t.begin("Cleanup (Option 2)")
        result = sh.run(f"aws cloudformation delete-stack --stack-name {STACK}")
        t.expect("delete-stack is accepted", result.code == 0, _err(result))
        result = sh.run(f"aws cloudformation wait stack-delete-complete --stack-name {STACK}", timeout=120)
        t.expect("the stack is deleted (stack-delete-complete)", result.code == 0, _err(result))
        self._nothing_left()

    def _nothing_left(self) -> None:
        try:
            left = self.sandbox.leftovers()
        except Exception as exc:  # the endpoint itself failed: report it, do not crash the demo
            left = f"cannot list: {exc}"
        self.t.expect("no cluster and no role remain", not left, left)

    def _association_role(self) -> str:
        """The role of the stack's association for demo-ns/demo-sa (the expected caller identity)."""
        eks = self.sandbox.client("eks")
        role_arn = ""
        clusters = eks.list_clusters().get("clusters") or []
        for cluster in clusters:
            found = eks.list_pod_identity_associations(
                clusterName=cluster, namespace="demo-ns", serviceAccount="demo-sa"
            ).get("associations")
            if found:
                association = eks.describe_pod_identity_association(
                    clusterName=cluster, associationId=found[0]["associationId"]
                )["association"]
                role_arn = str(association["roleArn"])
                self.shell.vars.update(CLUSTER_NAME=cluster, AWS_REGION=self.sandbox.region)
        self.t.expect(
            "the stack made an association for demo-ns/demo-sa with a role",
            ":role/" in role_arn,
            f"clusters: {clusters}",
        )
        return role_arn.rsplit("/", 1)[-1] if ":role/" in role_arn else ""


def _err(result: Result) -> str:
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[-1][:200] if text and result.code != 0 else ""
