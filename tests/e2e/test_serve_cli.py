"""`podid serve` and `podid env` as a user runs them: real processes, bash, the aws CLI v1."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.serve_support import BIN, PODID, ServeProcess, base_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("serve") / "state") as proc:
        yield proc


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=base_env(**env), capture_output=True, text=True, timeout=60, check=False)


def test_eval_podid_env_points_the_aws_cli_at_the_admin(served: ServeProcess) -> None:
    script = 'set -e; eval "$(podid env --state-dir "$D")"; aws sts get-caller-identity --output json'
    done = run(["bash", "-c", script], D=str(served.state_dir), PATH=f"{BIN}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    me = json.loads(done.stdout)
    assert me["Arn"] == f"arn:aws:iam::{served.account_id}:user/admin"
    assert me["Account"] == served.account_id


def test_env_prints_the_running_endpoint_and_admin_keys(served: ServeProcess) -> None:
    printed = run([PODID, "env", "--state-dir", str(served.state_dir)])
    assert printed.returncode == 0, printed.stderr
    lines = dict(
        line.removeprefix("export ").split("=", 1)
        for line in printed.stdout.splitlines()
        if line.startswith("export ")
    )
    assert lines["AWS_ENDPOINT_URL"] == served.url
    assert lines["AWS_ACCESS_KEY_ID"] == served.admin.access_key_id
    assert lines["AWS_SECRET_ACCESS_KEY"] == served.admin.secret_access_key
    assert lines["AWS_DEFAULT_REGION"] == lines["AWS_REGION"] == "us-west-2"
    assert printed.stderr == ""
    # the same output whether --state-dir comes before the subcommand, after it, or from the environment
    before = run([PODID, "--state-dir", str(served.state_dir), "env"])
    equals = run([PODID, "env", f"--state-dir={served.state_dir}"])
    from_env = run([PODID, "env"], PODID_STATE_DIR=str(served.state_dir))
    assert before.stdout == equals.stdout == from_env.stdout == printed.stdout
    # --host/--port override what serve wrote
    overridden = run([PODID, "env", "--port", "1234"], PODID_STATE_DIR=str(served.state_dir))
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:1234\n" in overridden.stdout


def test_env_without_state_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    done = run([PODID, "env", "--state-dir", str(empty)])
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"no podid state in {empty}" in done.stderr
    assert "podid serve" in done.stderr
    assert "Traceback" not in done.stderr
    # without --state-dir or PODID_STATE_DIR: serve's default, the per-user data directory
    default = run([PODID, "env"], XDG_DATA_HOME=str(tmp_path / "xdg"))
    assert default.returncode == 1
    assert f"no podid state in {tmp_path / 'xdg' / 'podid'}" in default.stderr


def test_serve_on_a_busy_port_is_a_clear_error(served: ServeProcess, tmp_path: Path) -> None:
    port = served.url.rsplit(":", 1)[1]
    before = (served.state_dir / "endpoint.json").read_text()
    done = run([PODID, "serve", "--state-dir", str(tmp_path / "other"), "--port", port, "--no-runtime"])
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "address already in use" in done.stderr
    assert "Traceback" not in done.stderr
    # a second serve of the same state directory is refused before it touches anything
    assert served.proc is not None
    again = run([PODID, "serve", "--state-dir", str(served.state_dir), "--port", "0", "--no-runtime"])
    assert again.returncode == 1, again.stderr
    assert (
        f"another podid is serving {served.state_dir} (pid {served.proc.pid}, {served.url})" in again.stderr
    )
    assert "Traceback" not in again.stderr
    # the running server's endpoint file still names it, and it still answers
    assert (served.state_dir / "endpoint.json").read_text() == before
    with contextlib.closing(served.client("sts")) as sts:
        assert sts.get_caller_identity()["Account"] == served.account_id


def test_sigterm_exits_cleanly_and_removes_the_endpoint_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = ServeProcess(state).start()
    assert (state / "endpoint.json").exists()
    assert proc.terminate() == 0
    assert not (state / "endpoint.json").exists()
    assert (state / "admin.json").exists()  # the state itself stays
    # podid env still prints the administrator's lines, and warns that nothing serves them now
    after = run([PODID, "env", "--state-dir", str(state)])
    assert after.returncode == 0
    assert f"export AWS_ACCESS_KEY_ID={proc.admin.access_key_id}\n" in after.stdout
    assert f"warning: no podid is serving {state} now" in after.stderr
    assert "Traceback" not in proc.log_text()


def test_serve_reads_podid_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "from-env"
    env = base_env(PODID_STATE_DIR=str(state))
    with subprocess.Popen(
        [PODID, "serve", "--port", "0", "--no-runtime"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            line = proc.stderr.readline() if proc.stderr else ""
            assert f"state {state}" in line, line
            assert json.loads((state / "endpoint.json").read_text())["pid"] == proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


WALKTHROUGH = r"""
set -euo pipefail
eval "$(podid env --state-dir "$D")"
cat > eks-pod-identity-trust-policy.json <<'EOF'
{
"Version": "2012-10-17",
"Statement": [{
"Effect": "Allow",
"Principal": { "Service": "pods.eks.amazonaws.com" },
"Action": ["sts:AssumeRole", "sts:TagSession"]
}]
}
EOF
# Create role
export POD_ROLE_ARN=$(aws iam create-role \
--role-name s3-app-eks-pod-identity-role \
--assume-role-policy-document file://eks-pod-identity-trust-policy.json \
--output text --query 'Role.Arn')
# Attach policy
aws iam attach-role-policy \
--role-name s3-app-eks-pod-identity-role \
--policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
echo "POD_ROLE_ARN=$POD_ROLE_ARN"
aws iam list-attached-role-policies --role-name s3-app-eks-pod-identity-role \
--output text --query 'AttachedPolicies[].PolicyArn'
# the administrator may not assume the pods' role: the trust policy names only the EKS service
if aws sts assume-role --role-arn "$POD_ROLE_ARN" --role-session-name me 2>denied.txt; then exit 9; fi
cat denied.txt
# a role the administrator's account trusts
ADMIN_ARN=$(aws sts get-caller-identity --output text --query Arn)
cat > operator-trust.json <<EOF
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Principal": {"AWS": "$ADMIN_ARN"}, "Action": "sts:AssumeRole"}]}
EOF
aws iam create-role --role-name operator --assume-role-policy-document file://operator-trust.json >/dev/null
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(aws sts assume-role \
--role-arn "arn:aws:iam::${ADMIN_ARN:13:12}:role/operator" --role-session-name walkthrough --output text \
--query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]')
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
echo "SESSION=$(aws sts get-caller-identity --output text --query Arn)"
"""


def test_walkthrough_step_3_in_bash_against_podid_serve(served: ServeProcess, tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", WALKTHROUGH],
        env=base_env(D=str(served.state_dir), PATH=f"{BIN}:{os.environ['PATH']}"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    account = served.account_id
    lines = done.stdout.splitlines()
    assert f"POD_ROLE_ARN=arn:aws:iam::{account}:role/s3-app-eks-pod-identity-role" in lines
    assert "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" in lines
    assert "An error occurred (AccessDenied) when calling the AssumeRole operation: " in done.stdout
    assert f"SESSION=arn:aws:sts::{account}:assumed-role/operator/walkthrough" in lines


def test_region_of_the_latest_start_is_what_env_prints(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for region in ("eu-west-1", "ap-south-1"):
        with ServeProcess(state, "--region", region):
            printed = run([PODID, "env", "--state-dir", str(state)]).stdout
            assert f"export AWS_DEFAULT_REGION={region}\n" in printed
            assert f"export AWS_REGION={region}\n" in printed


def test_bad_region_and_foreign_account_are_clear_errors(tmp_path: Path) -> None:
    bad = run([PODID, "serve", "--state-dir", str(tmp_path / "s"), "--region", "mars-1", "--port", "0"])
    assert bad.returncode == 2
    assert "Invalid value for '--region': 'mars-1' is not an AWS region name" in bad.stderr
    assert not (tmp_path / "s").exists()
    state = tmp_path / "state"
    with ServeProcess(state, "--account-id", "111111111111"):
        pass
    argv = [PODID, "serve", "--state-dir", str(state), "--account-id", "999999999999", "--port", "0"]
    foreign = run([*argv, "--no-runtime"])
    assert foreign.returncode == 1
    assert "belongs to account 111111111111, not 999999999999" in foreign.stderr
    assert "Traceback" not in foreign.stderr
