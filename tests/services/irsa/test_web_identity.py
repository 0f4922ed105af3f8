"""STS AssumeRoleWithWebIdentity end to end (unsigned boto3, the aws CLI v1, `podid token create`),
and hostile tokens: each gets AWS's error code and status, and no credentials."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.services.irsa.conftest import ACCOUNT, ROLE, SUB, IrsaWorld, irsa_trust

pytestmark = pytest.mark.e2e


def assume(world: IrsaWorld, token: str, role: str = ROLE, **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = world.unsigned_sts().assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="botocore-session-1", WebIdentityToken=token, **kwargs
    )
    return out


def refused(world: IrsaWorld, token: str, role: str = ROLE, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as err:
        assume(world, token, role, **kwargs)
    response = err.value.response
    assert "Credentials" not in response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_token_for_credentials_then_caller_identity(world: IrsaWorld) -> None:
    out = assume(world, world.token())
    assert out["SubjectFromWebIdentityToken"] == SUB
    assert out["Audience"] == "sts.amazonaws.com"
    assert out["Provider"] == world.provider_arn
    assert (
        out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/s3-reader/botocore-session-1"
    )
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert "PackedPolicySize" not in out
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    lifetime = creds["Expiration"].timestamp() - time.time()
    assert 3500 < lifetime <= 3600  # default DurationSeconds, not the token's 1 h exp by coincidence only
    identity = world.sts_as(creds).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/s3-reader/botocore-session-1"
    assert identity["Account"] == ACCOUNT
    # the role's permissions apply to the session (S3 read-only: ListBuckets allowed, CreateBucket denied)
    s3 = world.ep.boto3_client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    s3.list_buckets()
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="not-allowed", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_sub_condition_allows_one_service_account_and_refuses_another(world: IrsaWorld) -> None:
    assert assume(world, world.token(sa="demo-sa"))["SubjectFromWebIdentityToken"] == SUB
    assert refused(world, world.token(sa="intruder")) == (
        "AccessDenied",
        403,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )
    assert refused(world, world.token(namespace="other-ns"))[:2] == ("AccessDenied", 403)


def test_namespace_wide_trust_with_string_like(world: IrsaWorld) -> None:
    iam = world.iam()
    trust = irsa_trust(world.provider_arn, world.hostpath, sub="system:serviceaccount:team-a:*", like=True)
    iam.create_role(RoleName="team-a", AssumeRolePolicyDocument=trust)
    role = f"arn:aws:iam::{ACCOUNT}:role/team-a"
    assert (
        assume(world, world.token(sa="anything", namespace="team-a"), role)["Audience"] == "sts.amazonaws.com"
    )
    assert refused(world, world.token(sa="anything", namespace="team-b"), role)[:2] == ("AccessDenied", 403)


def test_duration_and_session_policy(world: IrsaWorld) -> None:
    out = assume(world, world.token(), DurationSeconds=900, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
    }))  # fmt: skip
    assert 800 < out["Credentials"]["Expiration"].timestamp() - time.time() <= 900
    assert out["PackedPolicySize"] > 0
    code, status, message = refused(world, world.token(), DurationSeconds=7200)
    assert (code, status) == ("ValidationError", 400)
    assert message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    code, status, message = refused(world, world.token(), DurationSeconds=50000)  # botocore checks only min
    assert (code, status) == ("ValidationError", 400)
    assert "durationSeconds" in message
    code, status, _ = world_session_name_refused(world)
    assert (code, status) == ("ValidationError", 400)


def world_session_name_refused(world: IrsaWorld) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as err:
        world.unsigned_sts().assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="has space", WebIdentityToken=world.token()
        )
    r = err.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_unregistered_issuer(world: IrsaWorld) -> None:
    token = world.token(cluster="other")  # the other cluster's issuer has no IAM OIDC provider
    other_issuer = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["iss"]
    assert refused(world, token) == (
        "InvalidIdentityToken",
        400,
        f"No OpenIDConnect provider found in your account for {other_issuer}",
    )
    # the role's account decides: a provider in this account does not serve a role of another one
    code, _, message = refused(world, world.token(), role="arn:aws:iam::999999999999:role/s3-reader")
    assert code == "InvalidIdentityToken"
    assert message.startswith("No OpenIDConnect provider found in your account for ")


def test_wrong_audience(world: IrsaWorld) -> None:
    assert refused(world, world.token(audience=("pods.eks.amazonaws.com",))) == (
        "InvalidIdentityToken",
        400,
        "Incorrect token audience",
    )
    assert refused(world, world.token(aud=None)) == (
        "InvalidIdentityToken",
        400,
        "Missing a required claim: aud",
    )
    assert refused(world, world.token(sub=None)) == (
        "InvalidIdentityToken",
        400,
        "Missing a required claim: sub",
    )


def test_expired_and_not_yet_valid(world: IrsaWorld) -> None:
    now = int(time.time())
    code, status, message = refused(world, world.token(exp=now - 400, iat=now - 4000, nbf=now - 4000))
    assert (code, status) == ("ExpiredTokenException", 400)
    assert message.startswith("Token expired: current date/time ")
    assert f"must be before the expiration date/time{now - 400}" in message
    # within AWS's 5 minutes of clock skew the token is still good
    assert assume(world, world.token(exp=now - 200, iat=now - 4000, nbf=now - 4000))["Audience"]
    assert refused(world, world.token(nbf=now + 3600, iat=now + 3600, exp=now + 7200))[:2] == (
        "InvalidIdentityToken",
        400,
    )


def test_other_clusters_key_and_forged_signatures(world: IrsaWorld) -> None:
    good = world.token()
    header, payload, _ = good.split(".")
    # the same claims signed by another cluster's key: its kid is unknown to this issuer
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = world.on_issuer(lambda issuer: str(issuer.sign(claims)), cluster="other")
    code, status, message = refused(world, forged)
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert message.startswith("Couldn't retrieve verification key from your identity provider,  please")
    # ... and with this issuer's kid but the other key's signature
    forged_kid = b64({"alg": "RS256", "kid": json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]})
    body = b64(claims)
    other_sig = world.on_issuer(lambda issuer: str(issuer.sign(claims)).split(".")[2], cluster="other")
    assert refused(world, f"{forged_kid}.{body}.{other_sig}")[:2] == ("InvalidIdentityToken", 400)


def test_alg_none_hmac_tampered_and_garbage(world: IrsaWorld) -> None:
    good = world.token()
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    assert refused(world, f"{b64({'alg': 'none', 'kid': kid})}.{payload}.")[:2] == (
        "InvalidIdentityToken",
        400,
    )
    assert refused(world, f"{b64({'alg': 'HS256', 'kid': kid})}.{payload}.{signature}")[:2] == (
        "InvalidIdentityToken",
        400,
    )
    tampered = b64({**claims, "sub": "system:serviceaccount:demo-ns:demo-sa-admin"})
    code, status, message = refused(world, f"{header}.{tampered}.{signature}")
    assert (code, status, message) == (
        "InvalidIdentityToken",
        400,
        "The ID Token provided has an invalid signature.",
    )
    # a changed claim that the trust policy would accept is still refused: the signature covers it
    widened = b64({**claims, "exp": claims["exp"] + 86400})
    assert refused(world, f"{header}.{widened}.{signature}")[:2] == ("InvalidIdentityToken", 400)
    code, status, message = refused(world, "not-a-jwt")
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert message.startswith("The ID Token provided is not a valid JWT.")


def test_unknown_role_and_deleted_provider(world: IrsaWorld) -> None:
    assert refused(world, world.token(), role=f"arn:aws:iam::{ACCOUNT}:role/missing")[:2] == (
        "AccessDenied",
        403,
    )
    iam = world.iam()
    issuer = world.issuer
    # while the provider is deleted, the role that references it cannot be assumed
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=world.provider_arn)
    try:
        assert (
            refused(world, world.token())[2]
            == f"No OpenIDConnect provider found in your account for {issuer}"
        )
    finally:
        iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])
    assert assume(world, world.token())["Provider"] == world.provider_arn


def test_session_tags_from_the_token_need_tag_session(world: IrsaWorld) -> None:
    tags_claim = {"principal_tags": {"Project": ["Automation"]}, "transitive_tag_keys": ["Project"]}
    token = world.token(extra={"https://aws.amazon.com/tags": tags_claim})
    assert "https://aws.amazon.com/tags" in json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    # s3-reader's trust has no sts:TagSession
    assert refused(world, token)[:2] == ("AccessDenied", 403)
    iam = world.iam()
    trust = json.loads(irsa_trust(world.provider_arn, world.hostpath))
    trust["Statement"][0]["Action"] = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    trust["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/Project"] = "Automation"
    iam.create_role(RoleName="tagged", AssumeRolePolicyDocument=json.dumps(trust))
    out = assume(world, token, f"arn:aws:iam::{ACCOUNT}:role/tagged")
    assert out["PackedPolicySize"] > 0
    decoded = world.ep.call(
        lambda: world.ep.endpoint.services.sts.decode_token(out["Credentials"]["SessionToken"])
    )
    assert dict(decoded.session.tags) == {"Project": "Automation"}
    assert list(decoded.session.transitive_tag_keys) == ["Project"]
    bad = world.token(extra={"https://aws.amazon.com/tags": {"principal_tags": {"Project": "x"}}})
    assert refused(world, bad, f"arn:aws:iam::{ACCOUNT}:role/tagged")[:2] == ("InvalidIdentityToken", 400)


def test_aws_cli_v1_with_podid_token_create(world: IrsaWorld) -> None:
    state = str(world.ep.endpoint.config.state_dir)
    made = subprocess.run(
        [sys.executable, "-m", "podid", "token", "create", "--cluster", "demo", "-n", "demo-ns",
         "--service-account", "demo-sa", "--audience", "sts.amazonaws.com", "--state-dir", state],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    env = {k: v for k, v in world.ep.env().items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", world.ep.url, "--output", "json",
         "sts", "assume-role-with-web-identity", "--role-arn", ROLE, "--role-session-name", "cli",
         "--web-identity-token", token],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/s3-reader/cli"
    assert got["SubjectFromWebIdentityToken"] == SUB
    creds = got["Credentials"]
    who = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", world.ep.url, "--output", "json",
         "sts", "get-caller-identity"],
        env={**env, "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"]},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/s3-reader/cli"
    refused_out = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", world.ep.url,
         "sts", "assume-role-with-web-identity", "--role-arn", ROLE, "--role-session-name", "cli",
         "--web-identity-token", token[:-8] + "AAAAAAAA"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused_out.returncode != 0
    assert "InvalidIdentityToken" in refused_out.stderr


def test_federated_provider_key_in_the_sessions_requests(world: IrsaWorld) -> None:
    """`aws:FederatedProvider` is the provider's ARN in requests made with a web-identity session, and
    absent from other sessions (AssumeRole as the administrator)."""
    iam = world.iam()
    trust = json.loads(irsa_trust(world.provider_arn, world.hostpath))
    trust["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
            "Action": "sts:AssumeRole",
        }
    )
    iam.create_role(RoleName="fed", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="fed", PolicyName="only-federated", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:FederatedProvider": world.provider_arn}}}],
    }))  # fmt: skip
    role = f"arn:aws:iam::{ACCOUNT}:role/fed"

    def s3_as(creds: dict[str, Any]) -> Any:
        return world.ep.boto3_client(
            "s3",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    s3_as(assume(world, world.token(), role)["Credentials"]).list_buckets()
    plain = world.ep.boto3_client("sts").assume_role(RoleArn=role, RoleSessionName="plain")["Credentials"]
    with pytest.raises(ClientError) as err:
        s3_as(plain).list_buckets()
    assert err.value.response["Error"]["Code"] == "AccessDenied"
