"""Property tests: tokens round-trip any session and refuse any single-bit change; cross-account rules."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services.iam.iam_helpers import ACCOUNT, allow, trust_for

from podid.clock import FakeClock
from podid.errors import AwsError
from podid.services.base import Call, Principal
from podid.services.iam import IamDomain
from podid.services.iam.authorizer import Authorizer
from podid.services.identity import CredentialResolver
from podid.services.sts import AssumeRoleRequest, StsDomain, TokenInvalid
from podid.services.sts.token import SessionToken, SessionTokenCodec, StsSession
from podid.wire.sigv4 import SigV4Failure

KEY = os.urandom(32)
text = st.text(min_size=1, max_size=40)

sessions = st.builds(
    StsSession,
    role_arn=text,
    role_id=text,
    session_name=text,
    expiration=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    tags=st.dictionaries(text, st.text(max_size=40), max_size=8),
    transitive_tag_keys=st.lists(text, max_size=4).map(tuple),
    session_policies=st.lists(text, max_size=3).map(tuple),
    source_identity=st.none() | text,
    chained=st.booleans(),
    issuer=st.none() | text,
    issued_at=st.none()
    | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)


def _whole_seconds(value: datetime | None) -> datetime | None:
    return value.replace(microsecond=0) if value else value


@settings(max_examples=60, deadline=None)
@given(
    session=sessions, akid=text, secret=text, account=text, flip=st.integers(min_value=0, max_value=10_000)
)
def test_tokens_round_trip_and_resist_tampering(
    session: StsSession, akid: str, secret: str, account: str, flip: int
) -> None:
    codec = SessionTokenCodec(KEY)
    token = SessionToken(akid, secret, account, session)
    encoded = codec.encode(token)
    decoded = codec.decode(encoded)
    expected = StsSession(
        **{
            **session.__dict__,
            "expiration": _whole_seconds(session.expiration),
            "issued_at": _whole_seconds(session.issued_at),
        }
    )
    assert decoded == SessionToken(akid, secret, account, expected)
    blob = bytearray(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    blob[flip % len(blob)] ^= 1 << (flip % 8)
    with pytest.raises(TokenInvalid):
        codec.decode(base64.urlsafe_b64encode(bytes(blob)).decode())


def test_cross_account_needs_identity_and_trust(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, resolver: CredentialResolver
) -> None:
    other = "444455556666"
    iam.create_user(other, "dev")
    key = iam.create_access_key(other, "dev")
    dev = resolver(key.access_key_id, None).principal
    assert isinstance(dev, Principal)
    arn = iam.create_role(ACCOUNT, "shared", trust_for({"AWS": f"arn:aws:iam::{other}:root"})).arn
    with pytest.raises(AwsError):  # the trust allows the account, but dev's identity policy does not
        sts.assume_role(dev, AssumeRoleRequest(arn, "x1"), authorizer.authorize)
    iam.put_user_policy(other, "dev", "assume", allow("sts:AssumeRole", arn))
    out = sts.assume_role(dev, AssumeRoleRequest(arn, "x1"), authorizer.authorize)
    assert out.assumed_role_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/shared/x1"
    no_trust = iam.create_role(ACCOUNT, "closed", trust_for({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})).arn
    iam.put_user_policy(other, "dev", "assume", allow("sts:AssumeRole"))
    with pytest.raises(AwsError):  # identity allows, the trust does not name dev's account
        sts.assume_role(dev, AssumeRoleRequest(no_trust, "x1"), authorizer.authorize)


def test_source_identity_is_kept_through_a_chain(
    iam: IamDomain, sts: StsDomain, authorizer: Authorizer, admin: Principal
) -> None:
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    first_arn = iam.create_role(ACCOUNT, "first", trust_for({"AWS": admin.arn}, actions)).arn
    first = sts.assume_role(
        admin, AssumeRoleRequest(first_arn, "a1", source_identity="alice"), authorizer.authorize
    )
    iam.put_role_policy(ACCOUNT, "first", "hop", allow(["sts:AssumeRole", "sts:SetSourceIdentity"]))
    second_arn = iam.create_role(ACCOUNT, "second", trust_for({"AWS": first_arn}, actions)).arn
    second = sts.assume_role(first.principal, AssumeRoleRequest(second_arn, "a2"), authorizer.authorize)
    assert second.source_identity == "alice"
    with pytest.raises(AwsError) as err:
        sts.assume_role(
            first.principal,
            AssumeRoleRequest(second_arn, "a3", source_identity="mallory"),
            authorizer.authorize,
        )
    assert err.value.code == "InvalidParameterValue"
    ctx = authorizer.context_for(
        Call("r", "s3", "Op", "us-west-2", second.principal, datetime(2026, 11, 28, tzinfo=UTC))
    )
    assert ctx["aws:SourceIdentity"] == "alice"


def test_expiry_boundary(
    iam: IamDomain,
    sts: StsDomain,
    authorizer: Authorizer,
    admin: Principal,
    resolver: CredentialResolver,
    clock: FakeClock,
) -> None:
    arn = iam.create_role(ACCOUNT, "r", trust_for({"AWS": admin.arn})).arn
    out = sts.assume_role(admin, AssumeRoleRequest(arn, "e1", duration_seconds=900), authorizer.authorize)
    clock.advance(899)
    resolver(out.access_key_id, out.session_token)
    clock.advance(1)
    with pytest.raises(SigV4Failure, match="expired"):
        resolver(out.access_key_id, out.session_token)
    assert out.expiration - timedelta(seconds=900) == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
