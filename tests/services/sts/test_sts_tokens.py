"""Session tokens and the credential resolver: tampering, expiry, key mismatch, inactive keys."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest
from tests.services.iam.iam_helpers import ACCOUNT, trust_for

from podid.clock import FakeClock
from podid.services.base import Principal
from podid.services.iam import IamDomain
from podid.services.iam.authorizer import Authorizer
from podid.services.identity import CredentialResolver
from podid.services.sts import AssumedRole, AssumeRoleRequest, StsDomain, TokenInvalid
from podid.services.sts.token import SessionToken, SessionTokenCodec, StsSession
from podid.wire.sigv4 import SigV4Failure


def session_creds(iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal) -> AssumedRole:
    arn = iam.create_role(
        ACCOUNT, "app", trust_for({"AWS": admin.arn}, ["sts:AssumeRole", "sts:TagSession"])
    ).arn
    req = AssumeRoleRequest(arn, "s1", tags=[("team", "a")], transitive_tag_keys=["team"], policy=None)
    return sts.assume_role(admin, req, authorizer.authorize)


def failure(resolver: CredentialResolver, akid: str, token: str | None) -> SigV4Failure:
    with pytest.raises(SigV4Failure) as err:
        resolver(akid, token)
    return err.value


def test_codec_round_trip() -> None:
    codec = SessionTokenCodec(os.urandom(32))
    session = StsSession(
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/p/app",
        role_id="AROAEXAMPLE1234567890",
        session_name="s",
        expiration=datetime(2026, 11, 28, 13, 0, tzinfo=UTC),
        tags={"a": "1"},
        transitive_tag_keys=("a",),
        session_policies=('{"Version":"2012-10-17","Statement":[]}',),
        source_identity="alice",
        chained=True,
        issuer="pods.eks.amazonaws.com",
        issued_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    )
    token = SessionToken("ASIAEXAMPLEEXAMPLE23", "s" * 40, ACCOUNT, session)
    text = codec.encode(token)
    assert codec.decode(text) == token
    assert codec.encode(token) != text  # random nonce
    assert "alice" not in text
    assert b"alice" not in base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # encrypted, not encoded
    with pytest.raises(TokenInvalid):
        SessionTokenCodec(os.urandom(32)).decode(text)  # another server's key


def test_every_tampered_byte_is_refused() -> None:
    codec = SessionTokenCodec(os.urandom(32))
    session = StsSession("arn:aws:iam::1:role/r", "AROAX", "s", datetime(2030, 1, 1, tzinfo=UTC))
    blob = bytearray(base64.urlsafe_b64decode(codec.encode(SessionToken("ASIAX", "x", "1", session)) + "=="))
    for i in range(0, len(blob), 7):
        changed = bytearray(blob)
        changed[i] ^= 0x01
        with pytest.raises(TokenInvalid):
            codec.decode(base64.urlsafe_b64encode(bytes(changed)).decode())
    for junk in ("", "abc", "!!!!", "AQ" * 10):
        with pytest.raises(TokenInvalid):
            codec.decode(junk)


def test_resolver_accepts_a_fresh_session(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal, resolver: CredentialResolver
) -> None:
    creds = session_creds(iam, sts, authorizer, admin)
    signing = resolver(creds.access_key_id, creds.session_token)
    assert signing.secret_access_key == creds.secret_access_key
    assert signing.session_token == creds.session_token
    principal = signing.principal
    assert isinstance(principal, Principal)
    assert principal.arn == creds.assumed_role_arn
    assert principal.session is not None
    assert dict(principal.session.tags) == {"team": "a"}


def test_resolver_refusals(
    iam: IamDomain,
    sts: StsDomain,
    authorizer: Authorizer,
    admin: Principal,
    resolver: CredentialResolver,
    clock: FakeClock,
) -> None:
    creds = session_creds(iam, sts, authorizer, admin)
    assert failure(resolver, creds.access_key_id, None).kind == "missing-token"
    tampered = (
        creds.session_token[:-3] + ("A" if creds.session_token[-3] != "A" else "B") + creds.session_token[-2:]
    )
    assert failure(resolver, creds.access_key_id, tampered).kind == "bad-token"
    other = session_creds_other(iam, sts, authorizer, admin)
    # a valid token presented with another session's key id
    assert failure(resolver, creds.access_key_id, other.session_token).kind == "bad-token"
    clock.advance(3600)
    expired = failure(resolver, creds.access_key_id, creds.session_token)
    assert expired.kind == "expired-token"
    assert expired.message == "The security token included in the request is expired"


def session_creds_other(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> AssumedRole:
    arn = iam.get_role(ACCOUNT, "app").arn
    return sts.assume_role(admin, AssumeRoleRequest(arn, "s2"), authorizer.authorize)


def test_deleted_role_does_not_revoke_the_token(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal, resolver: CredentialResolver
) -> None:
    creds = session_creds(iam, sts, authorizer, admin)
    iam.delete_role(ACCOUNT, "app")
    assert resolver(creds.access_key_id, creds.session_token).principal is not None


def test_long_term_keys(iam: IamDomain, resolver: CredentialResolver, admin: Principal) -> None:
    iam.create_user(ACCOUNT, "bob")
    key = iam.create_access_key(ACCOUNT, "bob")
    signing = resolver(key.access_key_id, None)
    assert signing.secret_access_key == key.secret
    assert signing.session_token is None
    assert isinstance(signing.principal, Principal)
    assert signing.principal.arn == f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert failure(resolver, "AKIAAAAAAAAAAAAAAAAA", None).kind == "unknown-key"
    assert failure(resolver, key.access_key_id, "some-token").kind == "bad-token"
    iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Inactive")
    inactive = failure(resolver, key.access_key_id, None)
    assert inactive.kind == "unknown-key"
    assert inactive.message == "The security token included in the request is invalid."
    iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Active")
    resolver(key.access_key_id, None)
    iam.delete_access_key(ACCOUNT, "bob", key.access_key_id)
    assert failure(resolver, key.access_key_id, None).kind == "unknown-key"


def test_garbage_token_is_invalid(sts: StsDomain) -> None:
    with pytest.raises(TokenInvalid):
        sts.decode_token("not-a-token")
