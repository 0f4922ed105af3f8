"""IAM OIDC identity providers through boto3 and the aws CLI v1; the URL/ARN rules and limits."""

from __future__ import annotations

import json
import subprocess

import pytest
from tests.services.irsa.conftest import ACCOUNT, IrsaWorld
from tests.support.errors import error_of

from podid.services.iam.errors import InvalidInput
from podid.services.iam.oidc import normalize_url, provider_arn

pytestmark = pytest.mark.e2e

EKS_URL = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def test_normalize_url_rules() -> None:
    assert normalize_url("https://server.example.com") == ("https", "server.example.com")
    assert normalize_url("https://oidc.eks.r.amazonaws.com:443/id/A") == (
        "https",
        "oidc.eks.r.amazonaws.com/id/A",
    )
    assert normalize_url("https://auth-dev.mozilla.auth0.com/") == ("https", "auth-dev.mozilla.auth0.com/")
    assert normalize_url("http://127.0.0.1:4566/oidc/id/X") == ("http", "127.0.0.1:4566/oidc/id/X")
    assert normalize_url("http://localhost:80/x") == ("http", "localhost:80/x")
    for bad in (
        "http://example.com/x",
        "ftp://x",
        "oidc.example.com",
        "https://x/?a=b",
        "https://x/#f",
        "https://",
    ):
        with pytest.raises(InvalidInput):
            normalize_url(bad)
    assert provider_arn(ACCOUNT, "https://server.example.com") == (
        "arn:aws:iam::111122223333:oidc-provider/server.example.com"
    )


def test_create_get_list_delete_with_boto3(world: IrsaWorld) -> None:
    iam = world.iam()
    created = iam.create_open_id_connect_provider(
        Url=EKS_URL.replace(".com/", ".com:443/"),  # what eksctl sends
        ClientIDList=["sts.amazonaws.com", "sts.amazonaws.com"],
        ThumbprintList=[THUMB],
        Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}],
    )
    arn = created["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/" + EKS_URL.removeprefix("https://")
    assert created["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == EKS_URL.removeprefix("https://")  # Get returns the URL without its scheme
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["CreateDate"].year >= 2024
    listed = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert arn in listed
    assert world.provider_arn in listed
    assert error_of(iam.create_open_id_connect_provider, Url=EKS_URL, ClientIDList=["x"]) == (
        "EntityAlreadyExists",
        409,
        f"Provider with url {EKS_URL} already exists.",
    )
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_of(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn) == (
        "NoSuchEntity",
        404,
        f"OpenIDConnect Provider not found for arn {arn}",
    )
    assert error_of(iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)[:2] == (
        "NoSuchEntity",
        404,
    )


def test_client_ids_thumbprints_and_tags(world: IrsaWorld) -> None:
    iam = world.iam()
    arn = iam.create_open_id_connect_provider(Url="https://ids.example.com/p", ClientIDList=["a"])[
        "OpenIDConnectProviderArn"
    ]
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == []
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")  # idempotent
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="a")
    iam.remove_client_id_from_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, ClientID="zz"
    )  # idempotent
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["b"]
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=[THUMB, "A" * 40]
    )
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["b" * 40])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == ["b" * 40]
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "team", "Value": "x"}])
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "Team", "Value": "y"}])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "Team", "Value": "y"}
    ]
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == []
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_validation_and_limits(world: IrsaWorld) -> None:
    iam = world.iam()
    code, status, message = error_of(iam.create_open_id_connect_provider, Url="http://example.com/x")
    assert (code, status) == ("InvalidInput", 400)
    assert "https://" in message
    assert error_of(iam.create_open_id_connect_provider, Url="https://q.example.com/?x=1")[:2] == (
        "InvalidInput",
        400,
    )
    assert error_of(
        iam.create_open_id_connect_provider, Url="https://t.example.com", ThumbprintList=["g" * 40]
    )[:2] == ("InvalidInput", 400)
    code, status, _ = error_of(
        iam.create_open_id_connect_provider,
        Url="https://t.example.com",
        ThumbprintList=[f"{i}" * 40 for i in range(6)],
    )
    assert (code, status) == ("InvalidInput", 400)
    code, status, message = error_of(
        iam.create_open_id_connect_provider,
        Url="https://c.example.com",
        ClientIDList=[f"c{i}" for i in range(101)],
    )
    assert (code, status, message) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
    )
    code, status, message = error_of(
        iam.get_open_id_connect_provider,
        OpenIDConnectProviderArn="arn:aws:iam::111122223333:role/not-a-provider",
    )
    assert (code, status) == ("InvalidInput", 400)
    # another account's provider is not this account's
    code, status, _ = error_of(
        iam.get_open_id_connect_provider,
        OpenIDConnectProviderArn=world.provider_arn.replace(ACCOUNT, "999999999999"),
    )
    assert (code, status) == ("NoSuchEntity", 404)
    # the wire layer enforces the model's constraints (40-character thumbprints) server-side too
    assert not [
        p
        for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        if "example.com" in p["Arn"]
    ]


def test_unauthorized_user_is_refused(world: IrsaWorld) -> None:
    iam = world.iam()
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    other = world.ep.boto3_client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    code, status, message = error_of(other.create_open_id_connect_provider, Url="https://n.example.com")
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:CreateOpenIDConnectProvider" in message
    assert "oidc-provider/n.example.com" in message
    assert error_of(other.list_open_id_connect_providers)[:2] == ("AccessDenied", 403)


def aws(world: IrsaWorld, *args: str) -> subprocess.CompletedProcess[str]:
    return world.ep.aws("--endpoint-url", world.ep.url, "--output", "json", *args, timeout=60)


def test_aws_cli_v1_round_trip(world: IrsaWorld) -> None:
    url = "https://cli.example.com/id/ABC"
    out = aws(
        world, "iam", "create-open-id-connect-provider", "--url", url,
        "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", THUMB,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    arn = json.loads(out.stdout)["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/cli.example.com/id/ABC"
    got = aws(world, "iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Url"] == "cli.example.com/id/ABC"
    listed = aws(world, "iam", "list-open-id-connect-providers")
    assert arn in [p["Arn"] for p in json.loads(listed.stdout)["OpenIDConnectProviderList"]]
    again = aws(world, "iam", "create-open-id-connect-provider", "--url", url)
    assert again.returncode != 0
    assert "EntityAlreadyExists" in again.stderr
    assert (
        aws(world, "iam", "delete-open-id-connect-provider", "--open-id-connect-provider-arn", arn).returncode
        == 0
    )
    gone = aws(world, "iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    assert gone.returncode != 0
    assert "NoSuchEntity" in gone.stderr


def test_domain_limits_and_issuer_lookup() -> None:
    from datetime import UTC, datetime

    from podid.clock import FakeClock
    from podid.services.iam import IamDomain
    from podid.services.iam.errors import LimitExceeded
    from podid.store import Store

    iam = IamDomain(Store(), FakeClock(datetime(2026, 11, 28, tzinfo=UTC)))
    for i in range(100):
        iam.create_oidc_provider(ACCOUNT, f"https://p{i}.example.com/id/X", ["sts.amazonaws.com"])
    with pytest.raises(LimitExceeded) as err:
        iam.create_oidc_provider(ACCOUNT, "https://one-too-many.example.com")
    assert err.value.message == "Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100"
    # another account has its own quota; the issuer lookup is per account and per scheme
    other = iam.create_oidc_provider("444455556666", "http://127.0.0.1:4566/oidc/id/A")
    assert other.arn == "arn:aws:iam::444455556666:oidc-provider/127.0.0.1:4566/oidc/id/A"
    assert iam.oidc_provider_for_issuer("444455556666", "http://127.0.0.1:4566/oidc/id/A") == other
    assert iam.oidc_provider_for_issuer(ACCOUNT, "http://127.0.0.1:4566/oidc/id/A") is None
    assert iam.oidc_provider_for_issuer("444455556666", "https://127.0.0.1:4566/oidc/id/A") is None
    assert iam.oidc_provider_for_issuer(ACCOUNT, "https://p7.example.com:443/id/X") is not None
    assert iam.oidc_provider_for_issuer(ACCOUNT, "https://p7.example.com/id/X/") is None  # no normalization
    assert iam.oidc_provider_for_issuer(ACCOUNT, "not a url") is None
    with pytest.raises(LimitExceeded):
        iam.tag_oidc_provider(ACCOUNT, provider_arn(ACCOUNT, "https://p1.example.com/id/X"),
                              [(f"k{i}", "v") for i in range(51)])  # fmt: skip
