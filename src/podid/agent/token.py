"""Unverified parsing of the projected service-account token, as the real agent does it.

The real agent (golang-jwt v5 `Parser.ParseUnverified` into `RegisteredClaims`, then the default
`Validator` with no leeway) never checks the signature: EKS Auth does. What it rejects, and the exact
error texts it puts in its 400 bodies, are reproduced here:

- `token is malformed: token contains an invalid number of segments`
- `token is malformed: could not base64 decode header: illegal base64 data at input byte N`
  (Go's `base64.RawURLEncoding`: no padding, `\\r`/`\\n` skipped, the offset Go reports)
- `token is malformed: could not JSON decode header: <Go json error>` (and `claim`)
- `token is unverifiable: signing method (alg) is unspecified` / `... is unavailable`
- `token is expired`, `token is not valid yet` (joined with `, ` when both)

Go's JSON error texts are reproduced for the common cases (empty input, a bad first character, a
non-object document, a wrongly typed registered claim); rarer syntax errors get Python's position in
a Go-like sentence. That is a documented approximation.

Besides validation, the caching layer needs the token's pod UID (the `kubernetes.io.pod.uid` claim)
and its `exp`, to stop renewing credentials for pods that are gone.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUES = {c: i for i, c in enumerate(_B64URL)}
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")

# Algorithms golang-jwt v5 registers (GetSigningMethod); "none" is registered too.
_KNOWN_ALGS = frozenset(
    {
        "HS256",
        "HS384",
        "HS512",
        "RS256",
        "RS384",
        "RS512",
        "ES256",
        "ES384",
        "ES512",
        "PS256",
        "PS384",
        "PS512",
        "EdDSA",
        "none",
    }
)

_STRING_CLAIMS = ("iss", "sub", "jti")


class TokenError(Exception):
    """The token cannot be parsed, or fails the basic claim checks; `str()` is golang-jwt's text."""


@dataclass(frozen=True)
class TokenClaims:
    """What the agent learns from a token without verifying it."""

    expires_at: int | None  # seconds since the epoch (jwt NumericDate truncated to seconds)
    not_before: int | None
    pod_uid: str | None
    pod_name: str | None


class _B64Error(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")


def go_raw_url_b64decode(segment: str) -> bytes:
    """Decode like Go's `base64.RawURLEncoding.DecodeString`, with Go's error offsets."""
    if len(segment) % 4 != 1 and _B64URL_RE.fullmatch(segment):
        try:  # the fast path for well-formed input; same bytes as Go's decoder
            return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except binascii.Error:
            pass
    data = segment.encode("utf-8", errors="surrogateescape")  # Go offsets count bytes
    out = bytearray()
    si = 0
    n = len(data)
    while True:
        quantum: list[int] = []
        while len(quantum) < 4:
            if si == n:
                if not quantum:
                    return bytes(out)
                if len(quantum) == 1:
                    raise _B64Error(si - 1)
                break
            ch = data[si]
            si += 1
            value = _B64_VALUES.get(chr(ch)) if ch < 128 else None
            if value is not None:
                quantum.append(value)
                continue
            if ch in (0x0A, 0x0D):
                continue
            raise _B64Error(si - 1)
        values = quantum + [0] * (4 - len(quantum))
        val = (values[0] << 18) | (values[1] << 12) | (values[2] << 6) | values[3]
        chunk = bytes(((val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF))
        out += chunk[: len(quantum) - 1]
        if len(quantum) < 4:
            return bytes(out)


def _go_json_error(raw: bytes, exc: ValueError) -> str:
    """A Go `encoding/json` style message for a document Python could not parse."""
    text = raw.decode("utf-8", errors="replace")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return "unexpected end of JSON input"
    first = stripped[0]
    if first not in '{["-0123456789tfn':
        return f"invalid character {_go_quote_char(first)} looking for beginning of value"
    literal = {"t": "true", "f": "false", "n": "null"}.get(first)
    if literal is not None:
        for have, want in zip(stripped[1:], literal[1:], strict=False):
            if have != want:
                expecting = _go_quote_char(want)
                return (
                    f"invalid character {_go_quote_char(have)} in literal {literal} (expecting {expecting})"
                )
        if len(stripped) < len(literal):
            return "unexpected end of JSON input"
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(text):
            return "unexpected end of JSON input"
        return f"invalid character {_go_quote_char(text[exc.pos])} {_describe(exc.msg)}"
    return str(exc)


def _describe(python_msg: str) -> str:
    if "Expecting property name" in python_msg:
        return "looking for beginning of object key string"
    if "Expecting ':'" in python_msg:
        return "after object key"
    if "Expecting ',' delimiter" in python_msg:
        return "after object key:value pair"
    if "Extra data" in python_msg:
        return "after top-level value"
    return "looking for beginning of value"


def _go_quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    if ch.isprintable():
        return f"'{ch}'"
    return f"'\\x{ord(ch):02x}'" if ord(ch) < 0x100 else f"'\\u{ord(ch):04x}'"


def _go_json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character {_go_quote_char(name[0])} looking for beginning of value")


def _decode_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:
        raise TokenError(
            f"token is malformed: could not JSON decode {what}: {_go_json_error(raw, exc)}"
        ) from None


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _numeric_date(value: Any) -> int | None:
    """jwt v5 `NumericDate.UnmarshalJSON`: a number, or a string holding a valid number literal."""
    if value is None:
        return None
    prefix = "token is malformed: could not JSON decode claim: could not parse NumericData: "
    if isinstance(value, str):
        if not _JSON_NUMBER.fullmatch(value):
            item = json.dumps(value)
            raise TokenError(
                prefix + f"json: invalid number literal, trying to unmarshal {json.dumps(item)} into Number"
            )
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError(
            prefix + f"json: cannot unmarshal {_go_json_type(value)} into Go value of type json.Number"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise TokenError(prefix + "value out of range")
    return math.floor(value) if value >= 0 else math.ceil(value)  # Go truncates toward zero


def _check_claim_types(claims: dict[str, Any]) -> None:
    for name in _STRING_CLAIMS:
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise TokenError(
                "token is malformed: could not JSON decode claim: "
                f"json: cannot unmarshal {_go_json_type(value)} into Go struct field "
                f"RegisteredClaims.{name} of type string"
            )
    aud = claims.get("aud")
    aud_ok = aud is None or isinstance(aud, str)
    aud_ok = aud_ok or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
    if not aud_ok:
        raise TokenError("token is malformed: could not JSON decode claim: invalid type for claim")


def parse_unverified(token: str) -> TokenClaims:
    """Parse a JWT without checking its signature; `TokenError` carries golang-jwt's message."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token is malformed: token contains an invalid number of segments")
    try:
        header_raw = go_raw_url_b64decode(parts[0])
    except _B64Error as exc:
        raise TokenError(f"token is malformed: could not base64 decode header: {exc}") from None
    header = _decode_json(header_raw, "header")
    if not isinstance(header, dict):
        raise TokenError(
            "token is malformed: could not JSON decode header: json: cannot unmarshal "
            f"{_go_json_type(header)} into Go value of type map[string]interface {{}}"
        )
    try:
        claims_raw = go_raw_url_b64decode(parts[1])
    except _B64Error as exc:
        raise TokenError(f"token is malformed: could not base64 decode claim: {exc}") from None
    claims = _decode_json(claims_raw, "claim")
    if claims is None:
        claims = {}
    if not isinstance(claims, dict):
        raise TokenError(
            "token is malformed: could not JSON decode claim: json: cannot unmarshal "
            f"{_go_json_type(claims)} into Go value of type jwt.RegisteredClaims"
        )
    _check_claim_types(claims)
    exp = _numeric_date(claims.get("exp"))
    nbf = _numeric_date(claims.get("nbf"))
    _numeric_date(claims.get("iat"))
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenError("token is unverifiable: signing method (alg) is unspecified")
    if alg not in _KNOWN_ALGS:
        raise TokenError("token is unverifiable: signing method (alg) is unavailable")
    pod_uid: str | None = None
    pod_name: str | None = None
    k8s = claims.get("kubernetes.io")
    if isinstance(k8s, dict):
        pod = k8s.get("pod")
        if isinstance(pod, dict):
            uid, name = pod.get("uid"), pod.get("name")
            pod_uid = uid if isinstance(uid, str) else None
            pod_name = name if isinstance(name, str) else None
    return TokenClaims(expires_at=exp, not_before=nbf, pod_uid=pod_uid, pod_name=pod_name)


def validate_times(claims: TokenClaims, now: datetime) -> None:
    """golang-jwt v5's default validator: `exp` and `nbf` when present, no leeway."""
    errors: list[str] = []
    now_s = now.timestamp()
    # Go: expired unless now.Before(exp); not valid yet if now.Before(nbf).
    if claims.expires_at is not None and not now_s < claims.expires_at:
        errors.append("token is expired")
    if claims.not_before is not None and now_s < claims.not_before:
        errors.append("token is not valid yet")
    if errors:
        raise TokenError(", ".join(errors))
