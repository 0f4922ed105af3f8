"""The IAM policy engine: evaluations per second, and `podid iam simulate --batch` as a whole process.

Prints three figures (issue 3, "Fast"):
- simple corpus: one managed policy (AmazonS3ReadOnlyAccess), no conditions, a mix of requests it
  allows and does not; target >= 100,000 evaluations/s in one process;
- complex corpus: an identity policy with conditions and policy variables, a bucket policy, a
  permissions boundary, a session policy and an SCP; target >= 20,000 evaluations/s;
- `podid iam simulate --batch` on 1,000 mixed cases (simple, complex, denied, malformed), the whole
  process including interpreter start-up, best of five; target < 0.4 s.

Evaluations are timed with CPU time of this process (other load on the machine skews it less); the
batch is timed by wall clock, since that is what the target is about.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from podid.policy import EvaluationRequest, PolicySet, compile_policy, evaluate

ACCOUNT = "111122223333"
OTHER = "444455556666"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/s3-app-eks-pod-identity-role/eks-demo-pod-1234"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/s3-app-eks-pod-identity-role"

# AWS's managed policy, version v3 (as IAM returns it).
S3_READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:Get*",
                "s3:List*",
                "s3:Describe*",
                "s3-object-lambda:Get*",
                "s3-object-lambda:List*",
            ],
            "Resource": "*",
        }
    ],
}

IDENTITY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOwnPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": "arn:aws:s3:::data-*/${aws:PrincipalTag/kubernetes-namespace}/*",
            "Condition": {
                "StringEquals": {"aws:PrincipalTag/eks-cluster-name": "demo"},
                "Bool": {"aws:SecureTransport": "true"},
                "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
            },
        },
        {
            "Sid": "List",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::data-*",
            "Condition": {"StringLike": {"s3:prefix": ["${aws:PrincipalTag/kubernetes-namespace}/*"]}},
        },
        {
            "Sid": "Dynamo",
            "Effect": "Allow",
            "Action": "dynamodb:*",
            "Resource": "arn:aws:dynamodb:*:table/x",
        },
        {
            "Sid": "NoDeleteOutsideHours",
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}},
        },
    ],
}

BUCKET_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecure",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::data-demo", "arn:aws:s3:::data-demo/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data-demo/shared/*",
        },
        {
            "Sid": "OrgOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::data-demo/*",
            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}},
        },
    ],
}

BOUNDARY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "dynamodb:*", "sts:*"], "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["iam:*", "organizations:*"],
            "Resource": "*",
        },
    ],
}

SESSION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "NotAction": ["iam:*"],
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        }
    ],
}

SCP = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "FullAWSAccess", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "RegionLock",
            "Effect": "Deny",
            "NotAction": ["iam:*", "sts:*", "organizations:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-west-2", "eu-west-1"]}},
        },
    ],
}

CONTEXT = {
    "aws:PrincipalTag/kubernetes-namespace": "demo-ns",
    "aws:PrincipalTag/eks-cluster-name": "demo",
    "aws:SecureTransport": "true",
    "aws:SourceIp": "10.1.2.3",
    "aws:CurrentTime": "2026-11-28T12:00:00Z",
    "aws:RequestedRegion": "us-west-2",
    "aws:PrincipalOrgID": "o-abc123",
    "aws:PrincipalArn": ROLE,
    "aws:TagKeys": ["team"],
}

SIMPLE_REQUESTS = [
    ("s3:ListAllMyBuckets", "*"),
    ("s3:GetObject", "arn:aws:s3:::my-bucket/key"),
    ("s3:ListBucket", "arn:aws:s3:::my-bucket"),
    ("s3:CreateBucket", "arn:aws:s3:::my-bucket"),
    ("s3:PutObject", "arn:aws:s3:::my-bucket/key"),
    ("ec2:DescribeInstances", "*"),
]

COMPLEX_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("s3:GetObject", "arn:aws:s3:::data-demo/demo-ns/report.csv", {}),
    ("s3:PutObject", "arn:aws:s3:::data-demo/other-ns/report.csv", {}),
    ("s3:ListBucket", "arn:aws:s3:::data-demo", {"s3:prefix": "demo-ns/2026/"}),
    ("s3:GetObject", "arn:aws:s3:::data-demo/demo-ns/x", {"aws:SecureTransport": "false"}),
    ("dynamodb:GetItem", f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/x", {}),
    ("s3:DeleteObject", "arn:aws:s3:::data-demo/demo-ns/x", {"aws:RequestedRegion": "ap-south-1"}),
    ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/u", {}),
]


def _time(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls of `fn` per CPU second, best of three rounds."""
    best = 0.0
    for _ in range(3):
        count = 0
        started = time.process_time()
        deadline = started + seconds / 3
        while True:
            for _ in range(50):
                fn()
            count += 50
            now = time.process_time()
            if now >= deadline:
                break
        best = max(best, count / (now - started))
    return best


def _policy(doc: dict[str, Any], kind: Any) -> Any:
    return compile_policy(json.dumps(doc), kind)


def simple_corpus() -> list[tuple[EvaluationRequest, PolicySet]]:
    policies = PolicySet(identity=(_policy(S3_READ_ONLY, "identity"),))
    return [
        (EvaluationRequest(SESSION, action, resource, ACCOUNT, {}), policies)
        for action, resource in SIMPLE_REQUESTS
    ]


def complex_corpus() -> list[tuple[EvaluationRequest, PolicySet]]:
    policies = PolicySet(
        identity=(_policy(IDENTITY, "identity"), _policy(S3_READ_ONLY, "identity")),
        resource=_policy(BUCKET_POLICY, "resource"),
        boundaries=(_policy(BOUNDARY, "boundary"),),
        session=(_policy(SESSION_POLICY, "session"),),
        scps=(_policy(SCP, "scp"),),
    )
    return [
        (EvaluationRequest(SESSION, action, resource, ACCOUNT, {**CONTEXT, **extra}), policies)
        for action, resource, extra in COMPLEX_REQUESTS
    ]


def _rate(corpus: Sequence[tuple[EvaluationRequest, PolicySet]]) -> tuple[float, dict[str, int]]:
    outcomes: dict[str, int] = {}
    for request, policies in corpus:
        d = evaluate(request, policies).decision
        outcomes[d] = outcomes.get(d, 0) + 1

    def one_round() -> None:
        for request, policies in corpus:
            evaluate(request, policies)

    return _time(one_round) * len(corpus), outcomes


def _case(request: EvaluationRequest, policies: dict[str, Any]) -> dict[str, Any]:
    return {
        "request": {
            "principal": request.principal,
            "action": request.action,
            "resource": request.resource,
            "resourceAccount": request.resource_account,
            "context": dict(request.context),
        },
        **policies,
    }


def batch_lines(n: int = 1000) -> list[str]:
    """`n` mixed simulator cases: simple, complex, cross-account, trust, and a malformed one in 50."""
    simple = {"identityPolicies": [S3_READ_ONLY]}
    complex_ = {
        "identityPolicies": [IDENTITY, S3_READ_ONLY],
        "resourcePolicy": BUCKET_POLICY,
        "permissionBoundaries": [BOUNDARY],
        "sessionPolicies": [SESSION_POLICY],
        "serviceControlPolicies": [SCP],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    kinds: list[str] = []
    for i in range(n):
        if i % 50 == 49:
            kinds.append('{"request": {"principal": "x", "action": "s3:GetObject"}}')
            continue
        if i % 4 == 0:
            action, resource = SIMPLE_REQUESTS[i % len(SIMPLE_REQUESTS)]
            case = _case(EvaluationRequest(SESSION, action, resource, ACCOUNT, {}), simple)
        elif i % 4 == 3:
            case = {
                "request": {
                    "principal": "pods.eks.amazonaws.com",
                    "action": "sts:AssumeRole" if i % 8 == 3 else "sts:TagSession",
                    "resource": ROLE,
                    "resourceAccount": ACCOUNT,
                },
                "resourcePolicy": trust,
            }
        else:
            action, resource, extra = COMPLEX_REQUESTS[i % len(COMPLEX_REQUESTS)]
            request = EvaluationRequest(SESSION, action, resource, ACCOUNT, {**CONTEXT, **extra})
            case = _case(request, complex_)
        kinds.append(json.dumps(case))
    return kinds


def batch_seconds(lines: Sequence[str], rounds: int = 5) -> tuple[float, float, int]:
    """`podid iam simulate --batch FILE` as a whole process: best wall-clock seconds, best CPU
    seconds (user + system of the child), output lines."""
    podid = Path(sys.executable).with_name("podid")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.jsonl"
        path.write_text("\n".join(lines) + "\n")
        best = best_cpu = float("inf")
        out_lines = 0
        for _ in range(rounds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                [str(podid), "iam", "simulate", "--batch", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            best = min(best, time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            best_cpu = min(best_cpu, cpu)
            out_lines = len(done.stdout.splitlines())
        return best, best_cpu, out_lines


def main() -> None:
    simple_rate, simple_outcomes = _rate(simple_corpus())
    complex_rate, complex_outcomes = _rate(complex_corpus())
    lines = batch_lines()
    batch, batch_cpu, out_lines = batch_seconds(lines)
    rows = [
        (
            "simple corpus (AmazonS3ReadOnlyAccess)",
            f"{simple_rate:,.0f} eval/s",
            ">= 100,000/s",
            simple_rate >= 100_000,
        ),
        (
            "complex corpus (6 policy types)",
            f"{complex_rate:,.0f} eval/s",
            ">= 20,000/s",
            complex_rate >= 20_000,
        ),
        (f"simulate --batch, {len(lines)} cases", f"{batch:.3f} s", "< 0.4 s", batch < 0.4),
    ]
    print(f"{'measure':<40} {'result':>18} {'target':>14}  met")
    for name, value, target, ok in rows:
        print(f"{name:<40} {value:>18} {target:>14}  {'yes' if ok else 'NO'}")
    print(f"simple outcomes: {simple_outcomes}; complex outcomes: {complex_outcomes}")
    print(f"batch output lines: {out_lines} (one per case); CPU time of the batch process: {batch_cpu:.3f} s")


if __name__ == "__main__":
    main()
