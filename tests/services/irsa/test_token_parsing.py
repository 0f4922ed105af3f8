"""The pure part of AssumeRoleWithWebIdentity: parsing a web identity token never fails with anything
but `InvalidIdentityToken` (so hostile input can only get a 400, never a 500)."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podid.services.sts.webidentity import InvalidIdentityToken, audiences, parse_token


def b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CLAIMS = {"iss": "https://i.example.com", "aud": ["sts.amazonaws.com"], "sub": "s", "exp": 2, "iat": 1}


def test_good_shape_parses() -> None:
    parsed = parse_token(f"{b64({'alg': 'RS256', 'kid': 'k'})}.{b64(CLAIMS)}.{b64(b'sig')}\n")
    assert parsed.claims["sub"] == "s"
    assert parsed.signature == b"sig"
    assert audiences(parsed.claims) == ["sts.amazonaws.com"]
    assert audiences({"aud": "x"}) == ["x"]


@pytest.mark.parametrize(
    ("header", "claims", "message"),
    [
        ({"alg": "none"}, CLAIMS, "signing algorithm none is not supported"),
        ({"alg": "HS256"}, CLAIMS, "signing algorithm HS256"),
        ({"alg": "RS256", "crit": ["b64"]}, CLAIMS, "critical header"),
        ({"alg": "RS256"}, {**CLAIMS, "aud": []}, "Missing a required claim: aud"),
        ({"alg": "RS256"}, {k: v for k, v in CLAIMS.items() if k != "iss"}, "Missing a required claim: iss"),
        ({"alg": "RS256"}, {k: v for k, v in CLAIMS.items() if k != "exp"}, "Missing a required claim: exp"),
        ({"alg": "RS256"}, {**CLAIMS, "exp": "2"}, "exp claim must be an integer"),
        ({"alg": "RS256"}, {**CLAIMS, "nbf": True}, "nbf claim must be an integer"),
        ({"alg": "RS256"}, [1, 2], "not a valid JWT"),
    ],
)
def test_refusals(header: dict[str, Any], claims: Any, message: str) -> None:
    with pytest.raises(InvalidIdentityToken) as err:
        parse_token(f"{b64(header)}.{b64(claims)}.{b64(b'sig')}")
    assert message in err.value.message
    assert (err.value.code, err.value.status) == ("InvalidIdentityToken", 400)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_cleanly(text: str) -> None:
    with contextlib.suppress(InvalidIdentityToken):
        parse_token(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.binary(max_size=200), st.binary(max_size=40))
def test_arbitrary_segments_are_refused_cleanly(header: bytes, claims: bytes, sig: bytes) -> None:
    with contextlib.suppress(InvalidIdentityToken):
        parse_token(f"{b64(header)}.{b64(claims)}.{b64(sig)}")
