"""Reading what a request claims about its signature, before anything is verified.

`parse_auth` splits the `Authorization` header or the presigned query into a `ParsedAuth` and
refuses malformed forms with AWS's messages; `credential_scope` cheaply reads the scope a request
claims (the gateway routes on it); `parse_amz_date` reads `X-Amz-Date` (or `Date`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from podid.wire.http import HttpRequest
from podid.wire.sigv4_errors import SigV4Failure
from podid.wire.sigv4_model import ALGORITHM, AMZ_DATE_FORMAT, CredentialScope, split_query

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_PRESIGN_NAMES = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})


@dataclass(frozen=True, slots=True)
class ParsedAuth:
    algorithm: str
    credential: str
    signed_headers: str
    signature: str
    date_text: str | None
    date_from_header: str  # "x-amz-date", "date" or "" (query)
    presigned: bool
    expires: str | None
    token: str | None
    query_pairs: tuple[tuple[str, str], ...]


def _is_presigned(pairs: list[tuple[str, str]]) -> bool:
    return any(n in _PRESIGN_NAMES or ("%" in n and unquote(n) in _PRESIGN_NAMES) for n, _ in pairs)


def credential_scope(request: HttpRequest) -> CredentialScope | None:
    """The credential scope a request claims, cheaply (no verification); None if unsigned or garbled."""
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, rest = auth.strip().partition(" ")
        if scheme == "AWS":  # S3 SigV2: no scope; the bucket's region applies
            return CredentialScope(rest.partition(":")[0], "", "", "s3", "", False)
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            if name == "Credential":
                return _scope_from(value, presigned=False)
        return None
    if "X-Amz-Credential" not in request.query and "AWSAccessKeyId" not in request.query:
        return None
    for name, value in split_query(request.query):
        if unquote(name) == "X-Amz-Credential":
            return _scope_from(unquote(value), presigned=True)
        if name == "AWSAccessKeyId":
            return CredentialScope(unquote(value), "", "", "s3", "", True)
    return None


def _scope_from(text: str, *, presigned: bool) -> CredentialScope | None:
    parts = text.split("/")
    if len(parts) != 5:
        return None
    return CredentialScope(parts[0], parts[1], parts[2], parts[3], parts[4], presigned)


def parse_auth(request: HttpRequest, s3: bool) -> ParsedAuth:
    auth = request.headers.get("authorization")
    pairs = split_query(request.query)
    presigned = _is_presigned(pairs)
    if auth is not None and presigned:
        raise SigV4Failure(
            "incomplete-signature",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
            "string parameter or the Authorization header should be specified",
            s3_message="Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            s3_code=("InvalidArgument", 400),
        )
    if auth is not None:
        return _parse_header(request, auth, pairs, s3)
    if presigned:
        return _parse_query(pairs, s3)
    raise SigV4Failure(
        "missing-auth",
        "Request is missing Authentication Token",
        s3_message="Access Denied",
    )


def _parse_header(request: HttpRequest, auth: str, pairs: list[tuple[str, str]], s3: bool) -> ParsedAuth:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Failure(
            "unsupported-algorithm",
            f"Unsupported AWS 'algorithm': '{algorithm}'",
            s3_message="The authorization mechanism you have provided is not supported. "
            "Please use AWS4-HMAC-SHA256.",
        )
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name] = value
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    date_text = request.headers.get("x-amz-date")
    date_source = "x-amz-date"
    if date_text is None and "date" in request.headers:
        date_text, date_source = request.headers["date"], "date"
    if date_text is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise SigV4Failure(
            "incomplete-signature",
            " ".join(missing) + f" Authorization={auth}",
            s3_message="The authorization header is malformed; " + " ".join(missing),
        )
    return ParsedAuth(
        ALGORITHM,
        params["Credential"],
        params["SignedHeaders"],
        params["Signature"],
        date_text,
        date_source,
        False,
        None,
        request.headers.get("x-amz-security-token"),
        tuple(pairs),
    )


def _parse_query(pairs: list[tuple[str, str]], s3: bool) -> ParsedAuth:
    values: dict[str, str] = {}
    for name, value in pairs:
        key = unquote(name) if "%" in name else name
        if key.startswith("X-Amz-") and key not in values:
            values[key] = unquote(value) if "%" in value else value
    algorithm = values.get("X-Amz-Algorithm")
    if algorithm is not None and algorithm != ALGORITHM:
        raise SigV4Failure(
            "unsupported-algorithm",
            f"Unsupported AWS 'algorithm': '{algorithm}'",
            s3_message='X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
            presigned=True,
        )
    required = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"]
    if s3:
        required.append("X-Amz-Expires")
    if any(not values.get(name) for name in required):
        raise SigV4Failure(
            "incomplete-signature",
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
            "'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. Re-examine the query-string parameters.",
            s3_message="Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters.",
            presigned=True,
        )
    return ParsedAuth(
        ALGORITHM,
        values["X-Amz-Credential"],
        values["X-Amz-SignedHeaders"],
        values["X-Amz-Signature"],
        values["X-Amz-Date"],
        "",
        True,
        values.get("X-Amz-Expires"),
        values.get("X-Amz-Security-Token"),
        tuple(pairs),
    )


def parse_amz_date(text: str, source: str, presigned: bool) -> tuple[datetime, str]:
    """The request time and its `YYYYMMDDTHHMMSSZ` spelling (the one that goes into the string to sign)."""
    if source == "date":
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return parsed, parsed.strftime(AMZ_DATE_FORMAT)
    elif _AMZ_DATE.fullmatch(text):
        try:
            moment = datetime(
                int(text[0:4]), int(text[4:6]), int(text[6:8]),
                int(text[9:11]), int(text[11:13]), int(text[13:15]), tzinfo=UTC,
            )  # fmt: skip
            return moment, text
        except ValueError:
            pass
    raise SigV4Failure(
        "incomplete-signature",
        f"Date must be in ISO-8601 'basic format'. Got '{text}'. See http://en.wikipedia.org/wiki/ISO_8601",
        s3_message="Invalid date format of header, X-Amz-Date" if presigned else None,
        presigned=presigned,
    )
