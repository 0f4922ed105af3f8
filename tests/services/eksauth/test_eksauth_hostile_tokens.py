"""Hostile service-account tokens: none yields credentials, each gets the right EKS Auth error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from tests.services.eksauth.conftest import Stack, build_stack

from podid.errors import AwsError
from podid.kube.issuer import TokenIssuer, generate_signing_key
from podid.services.eksauth.errors import ExpiredTokenException, InvalidTokenException
from podid.services.eksauth.provider import translate_error


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seg(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


class Forge:
    """Builds tokens around the stack's cluster: good claims, then one thing wrong."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.issuer = stack.eks.issuer_for(stack.cluster)
        private = serialization.load_pem_private_key(stack.cluster.signing_key_pem.encode(), None)
        assert isinstance(private, rsa.RSAPrivateKey)
        self.private = private
        self.now = stack.clock.now()

    def claims(self, **changes: Any) -> dict[str, Any]:
        base = self.issuer.claims(
            "ns",
            "sa",
            audience=["pods.eks.amazonaws.com"],
            duration_s=3600,
            pod_name="p",
            pod_uid="u",
            now=self.now,
        )
        for key, value in changes.items():
            key = key.replace("__", ".")
            if value is ...:
                base.pop(key, None)
            else:
                base[key] = value
        return base

    def header(self, **changes: Any) -> dict[str, Any]:
        head: dict[str, Any] = {"alg": "RS256", "kid": self.issuer.kid}
        for key, value in changes.items():
            if value is ...:
                head.pop(key, None)
            else:
                head[key] = value
        return head

    def rs256(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        signing_input = f"{seg(header)}.{seg(claims)}"
        sig = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(sig)}"

    def hs256(self, secret: bytes, claims: dict[str, Any] | None = None) -> str:
        signing_input = f"{seg(self.header(alg='HS256'))}.{seg(claims or self.claims())}"
        return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"

    def good(self) -> str:
        return self.rs256(self.header(), self.claims())


def _public_pem(f: Forge) -> bytes:
    return f.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _es256(f: Forge) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    signing_input = f"{seg(f.header(alg='ES256'))}.{seg(f.claims())}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))}"


def _tamper_payload(f: Forge) -> str:
    head, _, sig = f.good().split(".")
    return f"{head}.{seg(f.claims(sub='system:serviceaccount:kube-system:admin'))}.{sig}"


def _swap_signature(f: Forge) -> str:
    other = f.rs256(f.header(), f.claims(iat=f.claims()["iat"] - 1))
    head, body, _ = f.good().split(".")
    return f"{head}.{body}.{other.split('.')[2]}"


def _other_cluster(f: Forge) -> str:
    other = TokenIssuer(generate_signing_key(), f.issuer.issuer_url.replace("/id/", "/id/X"))
    return other.issue(
        "ns", "sa", audience=["pods.eks.amazonaws.com"], duration_s=3600, pod_name="p", now=f.now
    )


def _same_url_other_key(f: Forge) -> str:
    other = TokenIssuer(generate_signing_key(), f.issuer.issuer_url, kid=f.issuer.kid)
    return other.issue(
        "ns", "sa", audience=["pods.eks.amazonaws.com"], duration_s=3600, pod_name="p", now=f.now
    )


H = 3600
AUD = "pods.eks.amazonaws.com"
INVALID = InvalidTokenException
EXPIRED = ExpiredTokenException

CASES: list[tuple[str, Callable[[Forge], str], type[AwsError]]] = [
    ("wrong signature (other key, same kid)", _same_url_other_key, INVALID),
    ("token of another cluster", _other_cluster, INVALID),
    ("alg none, empty signature", lambda f: f"{seg(f.header(alg='none'))}.{seg(f.claims())}.", INVALID),
    ("alg none, junk signature", lambda f: f"{seg(f.header(alg='none'))}.{seg(f.claims())}.AAAA", INVALID),
    ("alg None spelled oddly", lambda f: f"{seg(f.header(alg='None'))}.{seg(f.claims())}.AAAA", INVALID),
    ("HS256 signed with the public key PEM", lambda f: f.hs256(_public_pem(f)), INVALID),
    ("HS256 signed with the kid", lambda f: f.hs256(f.issuer.kid.encode()), INVALID),
    ("HS512 header", lambda f: f.rs256(f.header(alg="HS512"), f.claims()), INVALID),
    ("RS384 header over an RS256 signature", lambda f: f.rs256(f.header(alg="RS384"), f.claims()), INVALID),
    ("PS256 header", lambda f: f.rs256(f.header(alg="PS256"), f.claims()), INVALID),
    ("ES256 with a foreign EC key", _es256, INVALID),
    ("unknown kid", lambda f: f.rs256(f.header(kid="some-other-key"), f.claims()), INVALID),
    ("no kid", lambda f: f.rs256(f.header(kid=...), f.claims()), INVALID),
    ("critical header", lambda f: f.rs256(f.header(crit=["exp"]), f.claims()), INVALID),
    ("wrong audience", lambda f: f.rs256(f.header(), f.claims(aud=["sts.amazonaws.com"])), INVALID),
    ("no audience", lambda f: f.rs256(f.header(), f.claims(aud=...)), INVALID),
    (
        "wrong issuer",
        lambda f: f.rs256(f.header(), f.claims(iss="https://oidc.eks.us-west-2.amazonaws.com/id/X")),
        INVALID,
    ),
    ("no issuer", lambda f: f.rs256(f.header(), f.claims(iss=...)), INVALID),
    (
        "expired",
        lambda f: f.rs256(
            f.header(),
            f.claims(
                iat=f.claims()["iat"] - 2 * H, nbf=f.claims()["nbf"] - 2 * H, exp=f.claims()["exp"] - 2 * H
            ),
        ),
        EXPIRED,
    ),
    ("not yet valid (nbf)", lambda f: f.rs256(f.header(), f.claims(nbf=f.claims()["nbf"] + H)), INVALID),
    (
        "issued in the future (iat)",
        lambda f: f.rs256(f.header(), f.claims(iat=f.claims()["iat"] + H)),
        INVALID,
    ),
    ("no exp", lambda f: f.rs256(f.header(), f.claims(exp=...)), INVALID),
    ("exp is a string", lambda f: f.rs256(f.header(), f.claims(exp="tomorrow")), INVALID),
    ("no sub", lambda f: f.rs256(f.header(), f.claims(sub=...)), INVALID),
    ("sub of a node", lambda f: f.rs256(f.header(), f.claims(sub="system:node:ip-10-0-0-1")), INVALID),
    (
        "sub disagrees with kubernetes.io",
        lambda f: f.rs256(f.header(), f.claims(sub="system:serviceaccount:other:sa")),
        INVALID,
    ),
    ("no kubernetes.io claim", lambda f: f.rs256(f.header(), f.claims(kubernetes__io=...)), INVALID),
    (
        "kubernetes.io without serviceaccount",
        lambda f: f.rs256(f.header(), f.claims(kubernetes__io={"namespace": "ns"})),
        INVALID,
    ),
    (
        "not bound to a pod",
        lambda f: f.rs256(
            f.header(),
            f.claims(kubernetes__io={"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "x"}}),
        ),
        INVALID,
    ),
    ("tampered payload", _tamper_payload, INVALID),
    ("signature of another token", _swap_signature, INVALID),
    ("truncated", lambda f: f.good()[:-12], INVALID),
    ("header only", lambda f: f.good().split(".")[0], INVALID),
    ("two segments", lambda f: ".".join(f.good().split(".")[:2]), INVALID),
    ("four segments", lambda f: f.good() + ".AAAA", INVALID),
    ("Bearer prefix", lambda f: "Bearer " + f.good(), INVALID),
    ("garbage", lambda f: "not-a-jwt", INVALID),
    ("garbage with dots", lambda f: "a.b.c", INVALID),
    ("header not JSON", lambda f: f"{b64(b'hello')}.{seg(f.claims())}.AAAA", INVALID),
    ("payload a JSON array", lambda f: f.rs256(f.header(), [1, 2]), INVALID),  # type: ignore[arg-type]
    ("empty", lambda f: "", INVALID),
    ("trailing newline", lambda f: f.good() + "\n", INVALID),
]


@pytest.fixture(scope="module")
def hostile_stack() -> Stack:
    stack = build_stack()
    role = stack.role("target")
    stack.eks.associations.create(stack.cluster, namespace="ns", service_account="sa", role_arn=role)
    stack.eks.associations.create(stack.cluster, namespace="other", service_account="sa", role_arn=role)
    stack.eks.associations.create(
        stack.cluster, namespace="kube-system", service_account="admin", role_arn=role
    )
    return stack


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_the_honest_token_works(hostile_stack: Stack) -> None:
    forge = Forge(hostile_stack)
    grant = hostile_stack.auth.assume_role_for_pod_identity(
        hostile_stack.call(), hostile_stack.cluster.name, forge.good()
    )
    assert grant.credentials.access_key_id.startswith("ASIA")


@pytest.mark.parametrize(("name", "make", "error"), CASES, ids=[c[0] for c in CASES])
def test_hostile_token_gets_no_credentials(
    hostile_stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Callable[[Forge], str],
    error: type[AwsError],
) -> None:
    forge = Forge(hostile_stack)
    token = make(forge)
    call = hostile_stack.call()
    minted: list[object] = []
    real = hostile_stack.sts.assume_role

    def spy(*args: Any, **kwargs: Any) -> Any:
        minted.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(hostile_stack.sts, "assume_role", spy)
    with pytest.raises(error) as err:
        hostile_stack.auth.assume_role_for_pod_identity(call, hostile_stack.cluster.name, token)
    assert minted == []
    assert err.value.status == 400
    if token:
        assert token not in err.value.message


def test_tokens_are_refused_as_expired_only_past_the_leeway(hostile_stack: Stack) -> None:
    forge = Forge(hostile_stack)
    token = forge.good()
    late = hostile_stack.call()
    object.__setattr__(late, "now", forge.now + timedelta(seconds=3600 + 61))
    with pytest.raises(ExpiredTokenException, match="expired"):
        hostile_stack.auth.assume_role_for_pod_identity(late, hostile_stack.cluster.name, token)
    ok = hostile_stack.call()
    object.__setattr__(ok, "now", forge.now + timedelta(seconds=3600 + 30))
    hostile_stack.auth.assume_role_for_pod_identity(ok, hostile_stack.cluster.name, token)


def test_model_validation_of_token_becomes_invalid_token() -> None:
    from podid.wire.validate import ModelValidationError, ValidationFailure

    err = ModelValidationError(
        [ValidationFailure("token", ("token",), "pattern", "Value at 'token' failed")],
        code="InvalidParameterException",
    )
    assert isinstance(translate_error(err), InvalidTokenException)
    denied = AwsError("no", code="AccessDenied", status=403)
    translated = translate_error(denied)
    assert (translated.code, translated.status) == ("AccessDeniedException", 400)
