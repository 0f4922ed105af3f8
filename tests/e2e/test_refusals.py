"""Every refusal of issue 2's "Done when", through boto3 and through the aws CLI v1 (a subprocess).

Each case asserts the AWS error code, the HTTP status (the CLI's from its `--debug` log) and the
message. The endpoint runs with a `FakeClock` that follows the real clock at a chosen offset, so a
request "dated 16 minutes ago" and an "expired session token" are made by moving the server's time;
boto3 and the aws CLI (both signers) also sign with their own clock set 16 minutes back while the
server keeps the real time.

Not repeated here: a principal the trust policy does not allow (AccessDenied 403) is proven through
both clients by tests/services/sts/test_sts_e2e.py (test_refusals and test_assume_role_with_the_aws_cli).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.e2e.serve_support import REGION, Credentials, aws, base_env, cli_refusal
from tests.support.errors import wrong_secret

from podid.clock import FakeClock
from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

ACCOUNT = "111122223333"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:user/admin"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
CLIENTS = ["boto3", "cli"]


def trust(actions: list[str]) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": ADMIN_ARN}, "Action": actions}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class World:
    """The endpoint, its fake clock, and how to set the server's time relative to the real one."""

    def __init__(self, ep: RunningEndpoint, clock: FakeClock) -> None:
        self.ep = ep
        self.clock = clock
        self.admin = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)

    def server_offset(self, seconds: float) -> None:
        """From now on the server's clock reads real time + `seconds`."""

        def move() -> None:
            target = datetime.now(UTC) + timedelta(seconds=seconds)
            self.clock.advance((target - self.clock.now()).total_seconds())

        self.ep.call(move)

    def client(self, service: str, creds: Credentials) -> Any:
        return self.ep.boto3_client(service, config=Config(retries={"max_attempts": 1}), **creds.boto3())

    def refusal(
        self,
        how: str,
        creds: Credentials,
        service: str,
        operation: str,
        params: dict[str, Any],
        cli: list[str],
    ) -> tuple[str, int, str]:
        """(code, status, message) of a refused call made by boto3 or by the aws CLI."""
        if how == "cli":
            return cli_refusal(aws(self.ep.url, creds, service, *cli, debug=True))
        with pytest.raises(ClientError) as err:
            getattr(self.client(service, creds), operation)(**params)
        response = err.value.response
        return (
            response["Error"]["Code"],
            response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"]["Message"],
        )

    def caller_identity_refusal(self, how: str, creds: Credentials) -> tuple[str, int, str]:
        return self.refusal(how, creds, "sts", "get_caller_identity", {}, ["get-caller-identity"])

    def assume(self, role: str, seconds: int = 900) -> Credentials:
        out = self.client("sts", self.admin).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="refusals", DurationSeconds=seconds
        )["Credentials"]
        return Credentials(out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    clock = FakeClock(datetime.now(UTC))
    with running_endpoint(tmp_path_factory.mktemp("refusals"), clock=clock, account_id=ACCOUNT) as ep:
        iam = ep.boto3_client("iam")
        iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust(["sts:AssumeRole", "sts:TagSession"]))
        iam.create_role(RoleName="no-tags", AssumeRolePolicyDocument=trust(["sts:AssumeRole"]))
        yield World(ep, clock)


@pytest.fixture(autouse=True)
def real_time(world: World) -> Iterator[None]:
    world.server_offset(0)
    yield
    world.server_offset(0)


@pytest.mark.parametrize("how", CLIENTS)
def test_wrong_secret(world: World, how: str) -> None:
    creds = Credentials(world.admin.access_key_id, wrong_secret(world.admin.secret_access_key))
    assert world.caller_identity_refusal(how, creds) == ("SignatureDoesNotMatch", 403, MISMATCH)
    iam = world.refusal(how, creds, "iam", "list_roles", {}, ["list-roles"])
    assert iam == ("SignatureDoesNotMatch", 403, MISMATCH)


@pytest.mark.parametrize("how", CLIENTS)
def test_unknown_key(world: World, how: str) -> None:
    creds = Credentials("AKIAZZZZZZZZZZZZZZZZ", world.admin.secret_access_key)
    assert world.caller_identity_refusal(how, creds) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    iam = world.refusal(how, creds, "iam", "list_roles", {}, ["list-roles"])
    assert iam == ("InvalidClientTokenId", 403, INVALID_TOKEN)


def _expired_message(code: str, status: int, message: str) -> None:
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    # "Signature expired: 20261128T101500Z is now earlier than 20261128T101600Z (20261128T103100Z - 15 min.)"
    assert message.startswith("Signature expired: ")
    assert message.endswith(" - 15 min.)")


@pytest.mark.parametrize("how", CLIENTS)
def test_request_dated_sixteen_minutes_ago(world: World, how: str) -> None:
    world.server_offset(16 * 60)
    _expired_message(*world.caller_identity_refusal(how, world.admin))
    world.server_offset(14 * 60)  # within the 15 minutes: accepted
    assert world.client("sts", world.admin).get_caller_identity()["Arn"] == ADMIN_ARN


@contextmanager
def client_clock(moment: datetime) -> Iterator[None]:
    """botocore signs as if the time were `moment` (both its Python and its CRT signer)."""

    def fake(remove_tzinfo: bool = True) -> datetime:
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    with (
        mock.patch("botocore.auth.get_current_datetime", fake),
        mock.patch("botocore.crt.auth.get_current_datetime", fake),
    ):
        yield


def test_boto3_signing_with_a_clock_sixteen_minutes_behind(world: World) -> None:
    """The client's clock is wrong, the server's is right."""
    sixteen_ago = datetime.now(UTC) - timedelta(minutes=16)
    with client_clock(sixteen_ago):
        code, status, message = world.caller_identity_refusal("boto3", world.admin)
    _expired_message(code, status, message)
    assert message.startswith(f"Signature expired: {sixteen_ago:%Y%m%dT%H%M%SZ} is now earlier than ")
    ahead = datetime.now(UTC) + timedelta(minutes=16)
    with client_clock(ahead):
        code, status, message = world.caller_identity_refusal("boto3", world.admin)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith(f"Signature not yet current: {ahead:%Y%m%dT%H%M%SZ} is still later than ")
    with client_clock(datetime.now(UTC) - timedelta(minutes=14)):
        assert world.client("sts", world.admin).get_caller_identity()["Arn"] == ADMIN_ARN


# The aws CLI v1 run with its clock moved (its vendored botocore's clock), as a user's wrong clock.
SKEWED_CLI = """
import sys
from datetime import UTC, datetime, timedelta
import awscli.clidriver  # registers the CLI's vendored botocore as `botocore`
import botocore.auth, botocore.crt.auth
moment = datetime.now(UTC) + timedelta(seconds=float(sys.argv.pop(1)))
def fake(remove_tzinfo=True):
    return moment.replace(tzinfo=None) if remove_tzinfo else moment
botocore.auth.get_current_datetime = fake
botocore.crt.auth.get_current_datetime = fake
assert botocore.auth.__file__.startswith(awscli.clidriver.__file__.rsplit("/", 1)[0])
sys.exit(awscli.clidriver.main())
"""


@pytest.mark.parametrize("signer", ["python", "crt"])
def test_aws_cli_signing_with_a_clock_sixteen_minutes_behind(world: World, signer: str) -> None:
    env = base_env(AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=world.ep.url, **world.admin.env())
    if signer == "python":
        env["BOTO_DISABLE_CRT"] = "true"

    def run(offset: int) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", SKEWED_CLI, str(offset), "sts", "get-caller-identity", "--debug"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)

    _expired_message(*cli_refusal(run(-16 * 60)))
    fine = run(-14 * 60)
    assert fine.returncode == 0, fine.stderr[-2000:]
    assert json.loads(fine.stdout)["Arn"] == ADMIN_ARN


@pytest.mark.parametrize("how", CLIENTS)
def test_expired_session_token(world: World, how: str) -> None:
    world.server_offset(-10 * 60)  # the session starts 10 minutes "ago" and lasts 15
    session = world.assume("app", seconds=900)
    world.server_offset(6 * 60)  # 16 minutes later: the session has ended, the request date is fine
    expired = ("ExpiredToken", 403, "The security token included in the request is expired")
    assert world.caller_identity_refusal(how, session) == expired
    assert world.refusal(how, session, "iam", "list_roles", {}, ["list-roles"]) == expired
    world.server_offset(3 * 60)  # two minutes before the end it still works
    assert world.client("sts", session).get_caller_identity()["Arn"].endswith(":assumed-role/app/refusals")


@pytest.mark.parametrize("how", CLIENTS)
def test_tampered_session_token(world: World, how: str) -> None:
    session = world.assume("app")
    token = session.session_token
    assert token is not None
    positions = (0, len(token) // 2, len(token) - 2) if how == "boto3" else (len(token) // 2,)
    for position in positions:
        flipped = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        tampered = Credentials(session.access_key_id, session.secret_access_key, flipped)
        assert world.caller_identity_refusal(how, tampered) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    # another session's token with this session's keys
    other = world.assume("app").session_token
    swapped = Credentials(session.access_key_id, session.secret_access_key, other)
    assert world.caller_identity_refusal(how, swapped) == ("InvalidClientTokenId", 403, INVALID_TOKEN)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _presigned(world: World, how: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A presigned GetCallerIdentity URL (and the headers it signs), made by boto3 or `aws eks get-token`."""
    if how == "boto3":
        sts = world.client("sts", world.admin)
        # signed for GET, as a Kubernetes authenticator sends it (botocore signs POST by default,
        # which AWS, like podid, refuses when the URL is then fetched with GET)
        post_signed = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
        status, body = _get(post_signed)
        assert (status, "<Code>SignatureDoesNotMatch</Code>" in body) == (403, True)
        url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
        return str(url), {}
    done = aws(world.ep.url, world.admin, "eks", "get-token", "--cluster-name", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)["status"]["token"]
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return url, {"x-k8s-aws-id": "demo"}


@pytest.mark.parametrize("how", CLIENTS)
def test_presigned_caller_identity(world: World, how: str, tmp_path: Path) -> None:
    url, headers = _presigned(world, how, tmp_path)
    assert url.startswith(f"{world.ep.url}/?")
    assert "Action=GetCallerIdentity" in url
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=60" in url
    status, body = _get(url, headers)
    assert status == 200, body
    assert f"<Arn>{ADMIN_ARN}</Arn>" in body
    # STS ignores X-Amz-Expires and honours the 15-minute window (what Kubernetes authenticators rely on)
    world.server_offset(13 * 60)
    assert _get(url, headers)[0] == 200
    world.server_offset(16 * 60)
    status, body = _get(url, headers)
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in body
    assert "<Message>Signature expired: " in body
    # a signed header that is left out, or a changed query, breaks the signature
    world.server_offset(0)
    if headers:
        assert _get(url)[0] == 403
    assert _get(url.replace("Action=GetCallerIdentity", "Action=GetCallerIdentity&x=1"), headers)[0] == 403


@pytest.mark.parametrize("how", CLIENTS)
def test_tags_without_tag_session(world: World, how: str) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/no-tags"
    params = {"RoleArn": role, "RoleSessionName": "tags", "Tags": [{"Key": "team", "Value": "a"}]}
    cli = ["assume-role", "--role-arn", role, "--role-session-name", "tags", "--tags", "Key=team,Value=a"]
    code, status, message = world.refusal(how, world.admin, "sts", "assume_role", params, cli)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: {ADMIN_ARN} is not authorized to perform: sts:TagSession on resource: {role}"
    )
    # the same role without tags is fine
    world.client("sts", world.admin).assume_role(RoleArn=role, RoleSessionName="no-tags")


@pytest.mark.parametrize("how", CLIENTS)
def test_malformed_policy_documents(world: World, how: str) -> None:
    bad = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"'
    cases: list[tuple[str, str, dict[str, Any], list[str]]] = [
        (
            "iam",
            "create_role",
            {"RoleName": f"bad-{how}", "AssumeRolePolicyDocument": bad},
            ["create-role", "--role-name", f"bad-{how}", "--assume-role-policy-document", bad],
        ),
        (
            "iam",
            "create_policy",
            {"PolicyName": f"bad-{how}", "PolicyDocument": bad},
            ["create-policy", "--policy-name", f"bad-{how}", "--policy-document", bad],
        ),
        (
            "iam",
            "put_role_policy",
            {"RoleName": "app", "PolicyName": "bad", "PolicyDocument": '{"Statement": "nope"}'},
            [
                "put-role-policy",
                "--role-name",
                "app",
                "--policy-name",
                "bad",
                "--policy-document",
                '{"Statement": "nope"}',
            ],
        ),
        (
            "sts",
            "assume_role",
            {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/app", "RoleSessionName": "ss", "Policy": bad},
            [
                "assume-role",
                "--role-arn",
                f"arn:aws:iam::{ACCOUNT}:role/app",
                "--role-session-name",
                "ss",
                "--policy",
                bad,
            ],
        ),
    ]
    for service, operation, params, cli in cases:
        code, status, message = world.refusal(how, world.admin, service, operation, params, cli)
        assert (code, status) == ("MalformedPolicyDocument", 400), (operation, message)
        # IAM's wording: CreateRole says so for a trust policy that is not JSON; CreatePolicy and
        # PutRolePolicy answer "Syntax errors in policy." (as do STS session policies here)
        expected = (
            "This policy contains invalid Json" if operation == "create_role" else "Syntax errors in policy."
        )
        assert message == expected, operation
    iam = world.client("iam", world.admin)
    names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert f"bad-{how}" not in names
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == []


# The same refusals in every protocol podid serves (boto3): the codes AWS uses per protocol.
PROTOCOL_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "iam": ("list_roles", {}),
    "eks": ("list_clusters", {}),
    "eks-auth": ("assume_role_for_pod_identity", {"clusterName": "demo", "token": "x.y.z"}),
    "s3": ("list_buckets", {}),
}
PROTOCOL_CODES: dict[str, dict[str, tuple[str, int]]] = {
    "iam": {
        "wrong-secret": ("SignatureDoesNotMatch", 403),
        "unknown-key": ("InvalidClientTokenId", 403),
        "sixteen-minutes": ("SignatureDoesNotMatch", 403),
    },
    "eks": {
        "wrong-secret": ("InvalidSignatureException", 403),
        "unknown-key": ("UnrecognizedClientException", 403),
        "sixteen-minutes": ("InvalidSignatureException", 403),
    },
    "eks-auth": {
        "wrong-secret": ("InvalidSignatureException", 403),
        "unknown-key": ("UnrecognizedClientException", 403),
        "sixteen-minutes": ("InvalidSignatureException", 403),
    },
    "s3": {
        "wrong-secret": ("SignatureDoesNotMatch", 403),
        "unknown-key": ("InvalidAccessKeyId", 403),
        "sixteen-minutes": ("RequestTimeTooSkewed", 403),
    },
}


@pytest.mark.parametrize("service", list(PROTOCOL_CALLS))
def test_refusals_in_every_protocol(world: World, service: str) -> None:
    operation, params = PROTOCOL_CALLS[service]
    expected = PROTOCOL_CODES[service]
    wrong = Credentials(world.admin.access_key_id, wrong_secret(world.admin.secret_access_key))
    unknown = Credentials("AKIAZZZZZZZZZZZZZZZZ", world.admin.secret_access_key)
    assert world.refusal("boto3", wrong, service, operation, params, [])[:2] == expected["wrong-secret"]
    assert world.refusal("boto3", unknown, service, operation, params, [])[:2] == expected["unknown-key"]
    world.server_offset(16 * 60)
    assert (
        world.refusal("boto3", world.admin, service, operation, params, [])[:2] == expected["sixteen-minutes"]
    )
