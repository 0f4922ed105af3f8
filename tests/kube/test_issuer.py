"""The token issuer: projected-token claims, strict verification, OIDC documents usable by PyJWT."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from podid.kube.issuer import (
    TokenExpired,
    TokenInvalid,
    TokenIssuer,
    TokenNotYetValid,
    generate_signing_key,
)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
URL = "http://127.0.0.1:4566/oidc/id/0123456789ABCDEF0123456789ABCDEF"


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer(generate_signing_key(), URL)


def _segments(token: str) -> tuple[dict[str, object], dict[str, object]]:
    head, body, _ = token.split(".")

    def pad(s: str) -> str:
        return s + "=" * (-len(s) % 4)

    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(base64.urlsafe_b64decode(pad(body)))


def test_issue_has_exactly_the_projected_token_claims(issuer: TokenIssuer) -> None:
    token = issuer.issue(
        "ns-a",
        "sa1",
        audience=["pods.eks.amazonaws.com"],
        duration_s=86400,
        pod_name="app1",
        pod_uid="fd6df8ef-1",
        sa_uid="aad7d4eb-2",
        now=NOW,
    )
    header, claims = _segments(token)
    assert header == {"alg": "RS256", "kid": issuer.kid}
    iat = int(NOW.timestamp())
    assert claims == {
        "aud": ["pods.eks.amazonaws.com"],
        "exp": iat + 86400,
        "iat": iat,
        "iss": URL,
        "kubernetes.io": {
            "namespace": "ns-a",
            "pod": {"name": "app1", "uid": "fd6df8ef-1"},
            "serviceaccount": {"name": "sa1", "uid": "aad7d4eb-2"},
        },
        "nbf": iat,
        "sub": "system:serviceaccount:ns-a:sa1",
    }


def test_token_without_pod_has_no_pod_claim_and_a_stable_sa_uid(issuer: TokenIssuer) -> None:
    one = issuer.issue("ns", "sa", audience=["x"], duration_s=600, now=NOW)
    two = issuer.issue("ns", "sa", audience=["x"], duration_s=600, now=NOW + timedelta(seconds=5))
    c1, c2 = _segments(one)[1], _segments(two)[1]
    assert "pod" not in c1["kubernetes.io"]  # type: ignore[operator]
    assert c1["kubernetes.io"] == c2["kubernetes.io"]


def test_verify_round_trip_and_standard_oidc_verification(issuer: TokenIssuer) -> None:
    token = issuer.issue(
        "ns", "sa", audience=["pods.eks.amazonaws.com"], duration_s=3600, pod_name="p", now=NOW
    )
    claims = issuer.verify(token, audience="pods.eks.amazonaws.com", now=NOW + timedelta(minutes=30))
    assert claims["sub"] == "system:serviceaccount:ns:sa"
    # A standard client verifies it with nothing but the JWKS document.
    jwk = issuer.jwks()["keys"][0]
    key = jwt.PyJWK(jwk)
    decoded = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience="pods.eks.amazonaws.com",
        issuer=URL,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert decoded["kubernetes.io"]["pod"]["name"] == "p"


def test_discovery_document_matches_eks(issuer: TokenIssuer) -> None:
    doc = issuer.discovery_document()
    assert doc["issuer"] == URL
    assert doc["jwks_uri"] == URL + "/keys"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["response_types_supported"] == ["id_token"]
    assert doc["subject_types_supported"] == ["public"]
    jwk = issuer.jwks()["keys"][0]
    assert {k: jwk[k] for k in ("kty", "alg", "use", "e")} == {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "e": "AQAB",
    }
    assert jwk["kid"] == issuer.kid


def test_kid_is_kube_apiserver_form(issuer: TokenIssuer) -> None:
    # base64url(sha256(DER SPKI)) without padding: 43 characters
    assert len(issuer.kid) == 43
    assert "=" not in issuer.kid


def test_expiry_and_not_yet_valid_with_leeway(issuer: TokenIssuer) -> None:
    token = issuer.issue("ns", "sa", audience=["a"], duration_s=600, now=NOW)
    issuer.verify(token, audience="a", now=NOW + timedelta(seconds=650))  # within the 60 s leeway
    with pytest.raises(TokenExpired):
        issuer.verify(token, audience="a", now=NOW + timedelta(seconds=661))
    issuer.verify(token, audience="a", now=NOW - timedelta(seconds=59))
    with pytest.raises(TokenNotYetValid):
        issuer.verify(token, audience="a", now=NOW - timedelta(seconds=120))


def test_another_issuers_key_is_refused(issuer: TokenIssuer) -> None:
    other = TokenIssuer(generate_signing_key(), URL)
    token = other.issue("ns", "sa", audience=["a"], duration_s=600, now=NOW)
    with pytest.raises(TokenInvalid):
        issuer.verify(token, audience="a", now=NOW)
    # Same kid forged onto another key's signature: the signature check refuses it.
    forged = TokenIssuer(other_pem := generate_signing_key(), URL, kid=issuer.kid)
    assert other_pem
    with pytest.raises(TokenInvalid, match="signature"):
        issuer.verify(
            forged.issue("ns", "sa", audience=["a"], duration_s=600, now=NOW), audience="a", now=NOW
        )
