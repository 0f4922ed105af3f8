"""Unit tests: token parsing with golang-jwt's texts, Go formats, Host parsing, durations."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from podid.agent.config import allowed_hosts_for, parse_go_duration, request_host
from podid.agent.model import Credentials, epoch_seconds_to_utc, go_rfc3339nano
from podid.agent.token import TokenError, go_raw_url_b64decode, parse_unverified, validate_times
from tests.agent.helpers import make_token

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _b64(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


def _b64raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


HEADER = _b64({"alg": "RS256", "kid": "k"})
M = "token is malformed: "


def _error(token: str) -> str:
    with pytest.raises(TokenError) as info:
        parse_unverified(token)
    return str(info.value)


def test_valid_token_gives_pod_uid_and_times() -> None:
    token = make_token(NOW, lifetime=600, pod_uid="uid-1")
    claims = parse_unverified(token)
    assert claims.pod_uid == "uid-1"
    assert claims.pod_name == "app-1"
    assert claims.expires_at == int(NOW.timestamp()) + 600
    validate_times(claims, NOW)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc", "token is malformed: token contains an invalid number of segments"),
        ("a.b.c.d", "token is malformed: token contains an invalid number of segments"),
        (
            f"Bearer {HEADER}.e30.sig",
            M + "could not base64 decode header: illegal base64 data at input byte 6",
        ),
        (
            f"{HEADER}=.e30.sig",
            M + f"could not base64 decode header: illegal base64 data at input byte {len(HEADER)}",
        ),
        (
            f"{HEADER}.e.sig",
            M + "could not base64 decode claim: illegal base64 data at input byte 0",
        ),
        (
            f"{base64.urlsafe_b64encode(b'xyz').decode()}.e30.sig",
            M + "could not JSON decode header: invalid character 'x' looking for beginning of value",
        ),
        (".e30.sig", "token is malformed: could not JSON decode header: unexpected end of JSON input"),
        (
            f"{_b64raw(b'notjson')}.e30.sig",
            M + "could not JSON decode header: invalid character 'o' in literal null (expecting 'u')",
        ),
        (
            f"{_b64([1])}.e30.sig",
            M + "could not JSON decode header: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}",
        ),
        (f"{_b64({'typ': 'JWT'})}.e30.sig", "token is unverifiable: signing method (alg) is unspecified"),
        (f"{_b64({'alg': 'XX1'})}.e30.sig", "token is unverifiable: signing method (alg) is unavailable"),
        (
            f"{HEADER}.{_b64({'exp': 'soon'})}.sig",
            M + "could not JSON decode claim: could not parse NumericData: json: invalid number "
            'literal, trying to unmarshal "\\"soon\\"" into Number',
        ),
        (
            f"{HEADER}.{_b64({'iss': 7})}.sig",
            M + "could not JSON decode claim: json: cannot unmarshal number into Go struct field "
            "RegisteredClaims.iss of type string",
        ),
        (
            f"{HEADER}.{_b64({'aud': 7})}.sig",
            M + "could not JSON decode claim: invalid type for claim",
        ),
    ],
)
def test_unparsable_tokens_get_golang_jwt_messages(token: str, message: str) -> None:
    assert _error(token) == message


def test_go_base64_accepts_newlines_and_reports_offsets_like_go() -> None:
    assert go_raw_url_b64decode("e3\n0") == b"{}"
    with pytest.raises(Exception, match="input byte 2"):
        go_raw_url_b64decode("ab+c")
    with pytest.raises(Exception, match="input byte 4"):
        go_raw_url_b64decode("abcde")


def test_alg_none_is_known_to_golang_jwt() -> None:
    parse_unverified(f"{_b64({'alg': 'none'})}.e30.")


def test_string_numeric_dates_are_accepted_like_jwt_v5() -> None:
    claims = parse_unverified(f"{HEADER}.{_b64({'exp': '1700000000.9'})}.sig")
    assert claims.expires_at == 1700000000


def test_expiry_and_not_before() -> None:
    expired = parse_unverified(make_token(NOW - timedelta(hours=2), lifetime=3600))
    with pytest.raises(TokenError, match=r"^token is expired$"):
        validate_times(expired, NOW)
    future = parse_unverified(make_token(NOW, not_before=NOW.timestamp() + 60))
    with pytest.raises(TokenError, match=r"^token is not valid yet$"):
        validate_times(future, NOW)
    both = parse_unverified(
        make_token(NOW - timedelta(hours=2), lifetime=60, not_before=NOW.timestamp() + 60)
    )
    with pytest.raises(TokenError, match=r"^token is expired, token is not valid yet$"):
        validate_times(both, NOW)
    # exp == now is expired (Go: valid only if now.Before(exp)); no exp at all is fine.
    at_exp = parse_unverified(make_token(NOW, lifetime=0))
    with pytest.raises(TokenError):
        validate_times(at_exp, NOW)
    validate_times(parse_unverified(f"{HEADER}.e30.sig"), NOW)


def test_go_time_formatting() -> None:
    assert go_rfc3339nano(datetime(2023, 7, 13, 20, 49, 35, tzinfo=UTC)) == "2023-07-13T20:49:35Z"
    assert go_rfc3339nano(datetime(2023, 7, 13, 20, 49, 35, 500000, tzinfo=UTC)) == "2023-07-13T20:49:35.5Z"
    assert go_rfc3339nano(datetime(2023, 7, 13, 20, 49, 35, 123000, tzinfo=UTC)) == "2023-07-13T20:49:35.123Z"
    assert epoch_seconds_to_utc(1689281375.1239) == datetime(2023, 7, 13, 20, 49, 35, 123000, tzinfo=UTC)
    assert epoch_seconds_to_utc(1689281375) == datetime(2023, 7, 13, 20, 49, 35, tzinfo=UTC)


def test_credentials_body_is_compact_in_go_field_order() -> None:
    creds = Credentials(
        "ASIA1", "s<e>&", "tok", "111122223333", datetime(2023, 12, 12, 12, 50, 44, tzinfo=UTC)
    )
    assert creds.body == (
        b'{"AccessKeyId":"ASIA1","SecretAccessKey":"s\\u003ce\\u003e\\u0026","Token":"tok",'
        b'"AccountId":"111122223333","Expiration":"2023-12-12T12:50:44Z"}'
    )
    no_account = Credentials("ASIA1", "s", "t", "", datetime(2023, 12, 12, tzinfo=UTC))
    assert b"AccountId" not in no_account.body


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("169.254.170.23", "169.254.170.23"),
        ("169.254.170.23:80", "169.254.170.23"),
        ("[fd00:ec2::23]:80", "fd00:ec2::23"),
        ("[fd00:ec2::23]", "fd00:ec2::23"),
        ("fd00:ec2::23", "fd00:ec2::23"),
        ("localhost:2703", "localhost"),
        ("", ""),
    ],
)
def test_request_host_like_go(host: str, expected: str) -> None:
    assert request_host(host) == expected


def test_allowed_hosts() -> None:
    assert allowed_hosts_for(("169.254.170.23", "[fd00:ec2::23]")) == ("169.254.170.23", "fd00:ec2::23")
    assert allowed_hosts_for(("127.0.0.1",)) == ("127.0.0.1", "localhost")
    assert allowed_hosts_for(("[::1]",)) == ("::1", "localhost")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3h", 10800.0), ("1h30m", 5400.0), ("90s", 90.0), ("0", 0.0), ("1.5m", 90.0), ("250ms", 0.25)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3", "h", "3x", "1h-5m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)
