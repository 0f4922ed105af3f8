"""`podid iam simulate`: single cases from a file or stdin, `--batch` JSON Lines, clear errors.

Run both in-process (click's CliRunner, stdout and stderr kept apart) and as the installed command
in a subprocess, as other tools will drive it.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from podid.cli.main import cli

PODID = str(Path(sys.executable).with_name("podid"))
SESSION = "arn:aws:sts::111122223333:assumed-role/s3-app-eks-pod-identity-role/eks-demo-pod-1234"
S3_READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
}


def case(action: str, **extra: Any) -> dict[str, Any]:
    request = {
        "principal": SESSION,
        "action": action,
        "resource": "arn:aws:s3:::my-bucket",
        "resourceAccount": "111122223333",
        "context": {"aws:PrincipalTag/kubernetes-namespace": "demo-ns", "aws:TagKeys": ["a", "b"]},
    }
    return {"request": request, "identityPolicies": [S3_READ_ONLY], **extra}


ALLOWED = case("s3:ListBucket")
DENIED = case("s3:CreateBucket")
EXPLICIT = case(
    "s3:GetObject",
    serviceControlPolicies=[
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
        }
    ],
)
BAD_POLICY = case(
    "s3:GetObject", identityPolicies=[{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}]
)
NO_REQUEST = {"identityPolicies": [S3_READ_ONLY]}


def run(args: list[str], stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["iam", "simulate", *args], input=stdin, catch_exceptions=False)


def run_process(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODID, "iam", "simulate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_single_case_from_a_file(tmp_path: Path) -> None:
    result = run([write(tmp_path, "case.json", json.dumps(ALLOWED, indent=2))])
    assert "message" not in json.loads(result.stdout)["explanation"]
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert set(out) == {"decision", "explanation"}
    assert out["decision"] == "Allowed"
    matched = out["explanation"]["matchedStatements"]
    assert [(m["policyType"], m["sid"], m["effect"]) for m in matched] == [("identity", "Read", "Allow")]


@pytest.mark.parametrize("args", [[], ["-"]], ids=["no-file", "dash"])
def test_single_case_from_stdin(args: list[str]) -> None:
    result = run(args, stdin=json.dumps(DENIED))
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["decision"] == "ImplicitlyDenied"
    assert (
        out["explanation"]["reason"] == "because no identity-based policy allows the s3:CreateBucket action"
    )
    assert out["explanation"]["message"] == (
        f"User: {SESSION} is not authorized to perform: s3:CreateBucket on resource:"
        ' "arn:aws:s3:::my-bucket" because no identity-based policy allows the s3:CreateBucket action'
    )
    not_applicable = out["explanation"]["notApplicable"]
    assert [(n["policyType"], n["reason"]) for n in not_applicable] == [("identity", "action")]


def test_explicit_deny_is_explained() -> None:
    out = json.loads(run([], stdin=json.dumps(EXPLICIT)).stdout)
    assert out["decision"] == "ExplicitlyDenied"
    assert out["explanation"]["deciding"] == "scp"
    assert out["explanation"]["reason"] == "with an explicit deny in a service control policy"


def test_batch_in_order_with_error_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(ALLOWED),
        json.dumps(DENIED),
        "{not json",
        json.dumps(BAD_POLICY),
        "",
        json.dumps(NO_REQUEST),
        json.dumps(EXPLICIT),
    ]
    result = run(["--batch", write(tmp_path, "cases.jsonl", "\n".join(lines) + "\n")])
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("decision", "error" if "error" in o else None) for o in out] == [
        "Allowed",
        "ImplicitlyDenied",
        "error",
        "error",
        "error",
        "ExplicitlyDenied",
    ]
    assert out[2]["error"].startswith("line 3: not valid JSON")
    assert out[3]["error"] == (
        "line 4: identityPolicies[0]: MalformedPolicyDocument: Policy statement must contain actions."
    )
    assert out[4]["error"] == "line 6: request: missing or not an object"
    # The errors are logged to stderr too, never mixed into stdout.
    for lineno in (3, 4, 6):
        assert f"error: line {lineno}: " in result.stderr


def test_batch_from_stdin_many_cases() -> None:
    cases = [ALLOWED if i % 3 else DENIED for i in range(600)]
    result = run(["--batch", "-"], stdin="".join(json.dumps(c) + "\n" for c in cases))
    assert result.exit_code == 0
    decisions = [json.loads(line)["decision"] for line in result.stdout.splitlines()]
    assert decisions == ["Allowed" if i % 3 else "ImplicitlyDenied" for i in range(600)]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "error: not valid JSON"),
        ("", "error: not valid JSON"),
        ("[1, 2]", "error: a case must be a JSON object"),
        (json.dumps(NO_REQUEST), "error: request: missing or not an object"),
        (
            json.dumps(BAD_POLICY),
            "error: identityPolicies[0]: MalformedPolicyDocument: Policy statement must contain actions.",
        ),
        (
            json.dumps(case("s3:GetObject", identityPolicies=[{"Statement": "x"}])),
            "error: identityPolicies[0]: MalformedPolicyDocument: Syntax errors in policy.",
        ),
        (
            json.dumps({**ALLOWED, "identityPolicies": {}}),
            "error: identityPolicies: must be a list of policies",
        ),
        (json.dumps({**ALLOWED, "extra": 1}), "error: unknown field(s) in case: extra"),
        (
            json.dumps({**ALLOWED, "request": {**ALLOWED["request"], "action": "GetObject"}}),
            "error: request.action: 'GetObject' is not of the form service:Action",
        ),
        (
            json.dumps({**ALLOWED, "request": {**ALLOWED["request"], "principal": "alice"}}),
            "error: request.principal: 'alice' is neither an IAM ARN",
        ),
        (
            json.dumps({**ALLOWED, "request": {**ALLOWED["request"], "context": {"k": {"a": 1}}}}),
            "error: request.context['k']: must be a string or a list of strings",
        ),
    ],
    ids=[
        "not-json",
        "empty",
        "not-object",
        "no-request",
        "policy-no-action",
        "policy-syntax",
        "list-type",
        "unknown-field",
        "action-form",
        "principal",
        "context-value",
    ],
)
def test_malformed_single_case_exits_2(stdin: str, message: str) -> None:
    result = run([], stdin=stdin)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message), result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run([str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot read ")
    assert "absent.json" in result.stderr


def test_unknown_operator_fails_closed_and_is_reported() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEqualz": {"aws:x": "y"}},
            }
        ],
    }
    out = json.loads(run([], stdin=json.dumps(case("s3:ListBucket", identityPolicies=[policy]))).stdout)
    assert out["decision"] == "ImplicitlyDenied"
    assert out["explanation"]["errors"][0]["operator"] == "StringEqualz"


def test_installed_command_single_and_batch(tmp_path: Path) -> None:
    single = run_process([write(tmp_path, "one.json", json.dumps(ALLOWED))])
    assert single.returncode == 0, single.stderr
    assert json.loads(single.stdout)["decision"] == "Allowed"
    assert single.stderr == ""

    from_stdin = run_process(["-"], stdin=json.dumps(DENIED))
    assert from_stdin.returncode == 0
    assert json.loads(from_stdin.stdout)["decision"] == "ImplicitlyDenied"

    batch = run_process(["--batch"], stdin="\n".join([json.dumps(ALLOWED), "nope", json.dumps(EXPLICIT)]))
    assert batch.returncode == 0
    out = [json.loads(line) for line in batch.stdout.splitlines()]
    assert out[0]["decision"] == "Allowed"
    assert out[1]["error"].startswith("line 2: not valid JSON")
    assert out[2]["decision"] == "ExplicitlyDenied"
    assert "line 2" in batch.stderr


def test_installed_command_malformed_exits_2() -> None:
    done = run_process([], stdin=json.dumps(BAD_POLICY))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "error: identityPolicies[0]: MalformedPolicyDocument: Policy statement must contain actions."
    )
    assert "Traceback" not in done.stderr


def test_bytes_that_are_not_utf8() -> None:
    done = subprocess.run(
        [PODID, "iam", "simulate"], input=b'{"request": \xff}', capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode() == "error: not UTF-8 text: invalid start byte at byte 12\n"
    batch = subprocess.run(
        [PODID, "iam", "simulate", "--batch"],
        input=b"\xff\xfe\n" + json.dumps(ALLOWED).encode() + b"\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert batch.returncode == 0
    out = [json.loads(line) for line in batch.stdout.splitlines()]
    assert out[0] == {"error": "line 1: not UTF-8 text: invalid start byte at byte 0"}
    assert out[1]["decision"] == "Allowed"


def test_absurd_nesting_is_a_clear_error() -> None:
    result = run([], stdin="[" * 100_000)
    assert result.exit_code == 2
    assert result.stderr == "error: not valid JSON: nested too deeply\n"


def test_the_command_imports_only_what_it_needs(tmp_path: Path) -> None:
    """Start-up is part of the batch target: no endpoint, AWS SDK, YAML, crypto or asyncio imports."""
    script = (
        "import sys\n"
        "from podid.cli.main import main\n"
        "try:\n"
        "    main(['iam', 'simulate', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, write(tmp_path, "case.json", json.dumps(ALLOWED))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout)["decision"] == "Allowed"
    modules = set(done.stderr.split())
    assert "podid.policy.evaluate" in modules
    heavy = {"botocore", "boto3", "aiohttp", "yaml", "cryptography", "jwt", "rich", "asyncio", "sqlite3"}
    assert modules & heavy == set()
    assert {
        m for m in modules if m.startswith("podid.") and not m.startswith(("podid.policy", "podid.cli"))
    } == {"podid.errors"}


def test_batch_from_a_pipe_answers_each_case_at_once() -> None:
    """A driver can send a case, read its answer, then send the next (no deadlock on buffering)."""
    proc = subprocess.Popen(
        [PODID, "iam", "simulate", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        for case_, expected in (
            (ALLOWED, "Allowed"),
            (DENIED, "ImplicitlyDenied"),
            (EXPLICIT, "ExplicitlyDenied"),
        ):
            proc.stdin.write(json.dumps(case_) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "no answer within 30 s: the batch output is held back"
            assert json.loads(proc.stdout.readline())["decision"] == expected
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
