"""Strict AWS Signature Version 4 verification (pure functions, no I/O, no framework).

`verify_request` re-derives the signature of an inbound `HttpRequest` exactly as AWS does and
refuses it with a `SigV4Failure` whose `kind` says what is wrong; `error_for` turns that failure into
the `AwsError` (code, HTTP status, message, S3 extra fields) the real service sends in a given wire
protocol. What is checked, in AWS's order:

1. the form: `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` or the
   presigned query (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`,
   `X-Amz-Signature`, and for S3 `X-Amz-Expires`), never both;
2. the credential scope: five elements, terminator `aws4_request`, date equal to `X-Amz-Date`'s,
   service equal to the one addressed, region a real AWS region name (botocore's partition data);
3. signed headers: `host` always; for S3 every `x-amz-*` header present;
4. the clock: `X-Amz-Date` within 15 minutes of `now` in both directions; S3 presigned URLs are
   valid from `X-Amz-Date` for `X-Amz-Expires` seconds (1..604800). Other services ignore
   `X-Amz-Expires` and apply the 15-minute window, as STS does (aws-sdk-go#2167,
   aws-iam-authenticator#160) — Kubernetes clients cache `aws eks get-token` tokens, signed with
   `X-Amz-Expires=60`, for 14 minutes and rely on this;
5. the credential: the caller's `CredentialLookup` resolves the access key (and refuses unknown keys,
   bad or expired session tokens); a temporary credential needs its exact session token, a
   permanent one must come without any;
6. the signature, compared in constant time with a signing key cached per (secret, date, region,
   service);
7. the payload: S3 requires `x-amz-content-sha256` (a SHA-256, `UNSIGNED-PAYLOAD` or a
   `STREAMING-*` value) and a hex value must equal the body's hash (a streamed body is checked while
   it is read, see `podid.wire.chunked.verify_sha256_stream`); other services hash the body
   themselves, so a wrong `x-amz-content-sha256` is a signature mismatch.

Canonicalisation: non-S3 paths are normalised (dot segments, repeated slashes) and encoded once more
("double encoding", as botocore and the CRT signer do); S3 paths are neither normalised nor
double-encoded, only brought to RFC 3986 form. Query parameters are decoded and re-encoded, then
sorted by name and value.

S3 alone also accepts its legacy Signature Version 2 (`_verify_v2`), because botocore and
`aws s3 presign` still presign with it by default in us-east-1 and us-west-2.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote, unquote

from podid.errors import AwsError
from podid.wire.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

FailureKind = Literal[
    "missing-auth",
    "incomplete-signature",
    "unsupported-algorithm",
    "bad-scope",
    "headers-not-signed",
    "request-expired",
    "presign-expired",
    "unknown-key",
    "bad-token",
    "expired-token",
    "missing-token",
    "bad-signature",
    "missing-payload-hash",
    "invalid-payload-hash",
    "payload-hash-mismatch",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
# Characters that need no percent-encoding in a canonical path segment (RFC 3986 unreserved).
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9\-_.~/]*")
_PRESIGN_NAMES = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
_UNRESERVED_QUERY = re.compile(r"[A-Za-z0-9\-_.~]*")


class SigV4Failure(Exception):
    """A refused signature. `kind` names the failure, `message` is the text most services send.

    `s3_message`/`s3_fields` carry S3's own wording and extra `<Error>` members where they differ;
    `presigned` says whether the query form was used (S3 names its errors after the form);
    `s3_code` overrides S3's (code, status) where one failure kind has several S3 answers.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        s3_message: str | None = None,
        s3_fields: Mapping[str, str] | None = None,
        presigned: bool = False,
        s3_code: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.s3_code = s3_code
        self.message = message
        self.s3_message = s3_message
        self.s3_fields: dict[str, str] = dict(s3_fields or {})
        self.presigned = presigned

    def __repr__(self) -> str:
        return f"SigV4Failure({self.kind!r}, {self.message!r})"


def unknown_key_failure(access_key_id: str) -> SigV4Failure:
    """For a `CredentialLookup`: the access key does not exist (or is inactive)."""
    return SigV4Failure(
        "unknown-key",
        "The security token included in the request is invalid.",
        s3_message="The AWS Access Key Id you provided does not exist in our records.",
        s3_fields={"AWSAccessKeyId": access_key_id},
    )


def bad_token_failure() -> SigV4Failure:
    """For a `CredentialLookup`: the session token is malformed, tampered with or unknown."""
    return SigV4Failure(
        "bad-token",
        "The security token included in the request is invalid.",
        s3_message="The provided token is malformed or otherwise invalid.",
    )


def expired_token_failure() -> SigV4Failure:
    """For a `CredentialLookup`: the session token was valid but has expired."""
    return SigV4Failure(
        "expired-token",
        "The security token included in the request is expired",
        s3_message="The provided token has expired.",
    )


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """The `Credential=` element: `<access key>/<date>/<region>/<service>/<terminator>`."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    presigned: bool = False

    @property
    def scope(self) -> str:
        """The scope as it appears in the string to sign (without the access key)."""
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class SigningCredential:
    """What the caller's lookup knows about an access key. `principal` is opaque here."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    principal: object = None


class CredentialLookup(Protocol):
    """Resolve an access key (and the session token sent with it, if any).

    Raise `SigV4Failure` with kind `unknown-key`, `bad-token` or `expired-token` to refuse.
    """

    def __call__(self, access_key_id: str, session_token: str | None, /) -> SigningCredential: ...


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """A request whose signature holds. `signature` seeds the aws-chunked chunk signatures.

    `payload_checked` is False when the body was not available to hash (a streamed S3 body with a
    hex `x-amz-content-sha256`): the caller must then hash the stream (`verify_sha256_stream`).
    """

    scope: CredentialScope
    credential: SigningCredential
    signed_headers: tuple[str, ...]
    signature: str
    payload_hash: str
    signing_key: bytes
    presigned: bool
    amz_date: datetime
    amz_date_text: str = ""
    payload_checked: bool = True
    expires_at: datetime | None = field(default=None)
    signature_version: int = 4


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _Parsed:
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


def _split_query(query: str) -> list[tuple[str, str]]:
    """Raw (still encoded) name/value pairs; a name without `=` has an empty value."""
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((name, value))
    return pairs


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
    for name, value in _split_query(request.query):
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


def _parse(request: HttpRequest, s3: bool) -> _Parsed:
    auth = request.headers.get("authorization")
    pairs = _split_query(request.query)
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


def _parse_header(request: HttpRequest, auth: str, pairs: list[tuple[str, str]], s3: bool) -> _Parsed:
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
    return _Parsed(
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


def _parse_query(pairs: list[tuple[str, str]], s3: bool) -> _Parsed:
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
    return _Parsed(
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


def _parse_date(text: str, source: str, presigned: bool) -> tuple[datetime, str]:
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


# --------------------------------------------------------------------------- regions


@lru_cache(maxsize=1)
def valid_regions() -> frozenset[str]:
    """Every region name in botocore's partition data, plus the partitions' global pseudo-regions."""
    import botocore

    data_dir = Path(botocore.__file__).parent / "data"
    names: set[str] = set()
    endpoints = json.loads((data_dir / "endpoints.json").read_text())
    for partition in endpoints["partitions"]:
        names.update(partition["regions"])
    partitions_file = data_dir / "partitions.json"
    if partitions_file.exists():
        for partition in json.loads(partitions_file.read_text()).get("partitions", []):
            names.update(partition.get("regions", {}))
    return frozenset(names)


# --------------------------------------------------------------------------- canonical request


def _encode_segment(segment: str) -> str:
    return quote(unquote(segment), safe="~")


def canonical_path(raw_path: str, *, s3: bool) -> str:
    """The canonical URI of a raw (percent-encoded, as received) request path."""
    path = raw_path or "/"
    if s3:
        # S3: no normalisation, no double encoding; only bring the encoding to RFC 3986 form.
        if "%" not in path and _UNRESERVED_PATH.fullmatch(path):
            return path
        return "/".join(_encode_segment(seg) for seg in path.split("/"))
    return quote(_remove_dot_segments(path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal, plus collapsing repeated slashes (as AWS services require)."""
    if "/." not in path and "//" not in path:
        return path
    out: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def _canonical_component(text: str) -> str:
    """A query name or value in RFC 3986 form (decoded, then re-encoded)."""
    if _UNRESERVED_QUERY.fullmatch(text):
        return text  # already canonical: nothing to decode or encode
    return quote(unquote(text), safe="-_.~")


def canonical_query(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]], *, presigned: bool) -> str:
    """Names and values decoded, re-encoded (RFC 3986), sorted; `X-Amz-Signature` left out if presigned."""
    encoded: list[tuple[str, str]] = []
    for name, value in pairs:
        if presigned and name == "X-Amz-Signature":
            continue
        encoded.append((_canonical_component(name), _canonical_component(value)))
    encoded.sort()
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_headers(request: HttpRequest, names: list[str]) -> str:
    """`name:value\\n` for each signed header; repeated headers joined with ',', whitespace trimmed."""
    values: dict[str, list[str]] = {name: [] for name in names}
    for raw_name, raw_value in request.headers.raw:
        bucket = values.get(raw_name.lower())
        if bucket is not None:
            bucket.append(" ".join(raw_value.split()))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in names)


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """`kSigning` for a (secret, date, region, service); cached because it only changes daily."""
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, TERMINATOR.encode(), hashlib.sha256).digest()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- verification


def verify_request(
    request: HttpRequest,
    lookup: CredentialLookup,
    now: datetime,
    *,
    service: str | None = None,
    s3: bool = False,
) -> VerifiedRequest:
    """Verify the SigV4 signature of `request` at time `now`, or raise `SigV4Failure`.

    `service` is the signing name of the service addressed (`sts`, `iam`, `eks`, `eks-auth`, `s3`);
    None accepts whatever the scope names. `s3` selects S3's canonicalisation and payload rules, and
    also accepts S3's legacy Signature Version 2 (`Authorization: AWS key:sig`, or the presigned
    `AWSAccessKeyId`/`Signature`/`Expires` query that botocore and `aws s3 presign` produce by default
    for us-east-1 and us-west-2); see `_verify_v2`.
    """
    if s3 and _is_v2(request):
        return _verify_v2(request, lookup, now)
    parsed = _parse(request, s3)
    presigned = parsed.presigned
    scope = _check_scope(parsed, service, s3)
    assert parsed.date_text is not None  # _parse guarantees a date
    amz_date, amz_text = _parse_date(parsed.date_text, parsed.date_from_header, presigned)
    if scope.date != amz_text[:8]:
        raise SigV4Failure(
            "bad-scope",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope.date}' != '{amz_text[:8]}', from '{amz_text}'.",
            s3_message=_s3_malformed(
                presigned, "Invalid credential date. Date is not the same as X-Amz-Date."
            ),
            presigned=presigned,
        )
    signed = parsed.signed_headers.split(";")
    _check_signed_headers(request, signed, s3, presigned)
    expires_at = _check_time(amz_date, amz_text, now, parsed.expires, s3, presigned)

    credential = lookup(scope.access_key_id, parsed.token)
    if credential.session_token is not None:
        if parsed.token is None:
            raise SigV4Failure(
                "missing-token",
                "The security token included in the request is invalid.",
                s3_message="The AWS Access Key Id you provided does not exist in our records.",
                s3_fields={"AWSAccessKeyId": scope.access_key_id},
                presigned=presigned,
            )
        if not hmac.compare_digest(credential.session_token.encode(), parsed.token.encode()):
            raise _bad_token(presigned)
    elif parsed.token is not None:
        raise _bad_token(presigned)

    payload_hash, payload_checked = _payload_hash(request, s3, presigned)
    canonical = "\n".join(
        (
            request.method,
            canonical_path(request.path, s3=s3),
            canonical_query(parsed.query_pairs, presigned=presigned),
            canonical_headers(request, signed),
            parsed.signed_headers,
            payload_hash,
        )
    )
    string_to_sign = "\n".join(
        (ALGORITHM, amz_text, scope.scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = signing_key(credential.secret_access_key, scope.date, scope.region, scope.service)
    expected = _sign(key, string_to_sign)
    if not hmac.compare_digest(expected.encode(), parsed.signature.encode()):
        raise SigV4Failure(
            "bad-signature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation "
            "for details.",
            s3_message="The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            s3_fields={
                "AWSAccessKeyId": scope.access_key_id,
                "StringToSign": string_to_sign,
                "SignatureProvided": parsed.signature,
                "StringToSignBytes": " ".join(f"{b:02x}" for b in string_to_sign.encode()),
                "CanonicalRequest": canonical,
                "CanonicalRequestBytes": " ".join(f"{b:02x}" for b in canonical.encode()),
            },
            presigned=presigned,
        )
    if not s3 and "x-amz-content-sha256" in request.headers:
        claimed = request.headers["x-amz-content-sha256"]
        if claimed != payload_hash:
            raise _payload_mismatch(claimed, payload_hash, presigned)
    if s3 and payload_checked and _HEX64.fullmatch(payload_hash) and request.stream is None:
        computed = hashlib.sha256(request.body).hexdigest()
        if computed != payload_hash:
            raise _payload_mismatch(payload_hash, computed, presigned)
    return VerifiedRequest(
        scope=scope,
        credential=credential,
        signed_headers=tuple(signed),
        signature=parsed.signature,
        payload_hash=payload_hash,
        signing_key=key,
        presigned=presigned,
        amz_date=amz_date,
        amz_date_text=amz_text,
        payload_checked=payload_checked,
        expires_at=expires_at,
    )


def _s3_malformed(presigned: bool, detail: str) -> str:
    if presigned:
        return f"Error parsing the X-Amz-Credential parameter; {detail}"
    return f"The authorization header is malformed; {detail}"


def _check_scope(parsed: _Parsed, service: str | None, s3: bool) -> CredentialScope:
    presigned = parsed.presigned
    parts = parsed.credential.split("/")
    if len(parts) != 5:
        raise SigV4Failure(
            "incomplete-signature",
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{parsed.credential}'",
            s3_message=_s3_malformed(
                presigned,
                'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            ),
            presigned=presigned,
        )
    scope = CredentialScope(parts[0], parts[1], parts[2], parts[3], parts[4], presigned)
    if scope.terminator != TERMINATOR:
        raise SigV4Failure(
            "bad-scope",
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{scope.terminator}'.",
            s3_message=_s3_malformed(
                presigned, f'incorrect terminal "{scope.terminator}". This endpoint uses "aws4_request".'
            ),
            presigned=presigned,
        )
    if service is not None and scope.service != service:
        raise SigV4Failure(
            "bad-scope",
            f"Credential should be scoped to correct service: '{service}'. ",
            s3_message=_s3_malformed(
                presigned, f'incorrect service "{scope.service}". This endpoint belongs to "{service}".'
            ),
            presigned=presigned,
        )
    if scope.region not in valid_regions():
        raise SigV4Failure(
            "bad-scope",
            f"Credential should be scoped to a valid region, not '{scope.region}'. ",
            s3_message=_s3_malformed(
                presigned, f"the region '{scope.region}' is wrong; it is not a valid region."
            ),
            presigned=presigned,
        )
    return scope


def _check_signed_headers(request: HttpRequest, signed: list[str], s3: bool, presigned: bool) -> None:
    names = set(signed)
    if "host" not in names:
        raise SigV4Failure(
            "headers-not-signed",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            s3_message="There were headers present in the request which were not signed",
            s3_fields={"HeadersNotSigned": "host"},
            presigned=presigned,
        )
    if not presigned:
        date_header = "x-amz-date" if "x-amz-date" in request.headers else "date"
        if date_header not in names:
            raise SigV4Failure(
                "headers-not-signed",
                f"'{'X-Amz-Date' if date_header == 'x-amz-date' else 'Date'}' must be a 'SignedHeader' "
                "in the AWS Authorization.",
                s3_message="There were headers present in the request which were not signed",
                s3_fields={"HeadersNotSigned": date_header},
            )
    if s3:
        unsigned = sorted(
            {n for n, _ in request.headers.lower_items() if n.startswith("x-amz-") and n not in names}
        )
        if unsigned:
            raise SigV4Failure(
                "headers-not-signed",
                "There were headers present in the request which were not signed",
                s3_fields={"HeadersNotSigned": ", ".join(unsigned)},
                presigned=presigned,
            )


def _amz(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def _fmt_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_time(
    amz_date: datetime, amz_text: str, now: datetime, expires: str | None, s3: bool, presigned: bool
) -> datetime | None:
    skew_fields = {"RequestTime": amz_text, "MaxAllowedSkewMilliseconds": "900000"}
    if s3 and presigned:
        assert expires is not None  # required for S3 presigned URLs
        if not re.fullmatch(r"-?\d{1,12}", expires):
            raise SigV4Failure(
                "incomplete-signature",
                "X-Amz-Expires should be a number",
                presigned=True,
                s3_message="X-Amz-Expires should be a number",
            )
        seconds = int(expires)
        if seconds < 0 or seconds == 0:
            raise SigV4Failure(
                "incomplete-signature",
                "X-Amz-Expires must be non-negative",
                presigned=True,
                s3_message="X-Amz-Expires must be non-negative"
                if seconds < 0
                else "X-Amz-Expires must be positive",
            )
        if seconds > MAX_PRESIGN_EXPIRES:
            raise SigV4Failure(
                "incomplete-signature",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                s3_message="X-Amz-Expires must be less than a week (in seconds) that is 604800",
                presigned=True,
            )
        expires_at = amz_date + timedelta(seconds=seconds)
        if amz_date - now > MAX_SKEW:
            raise SigV4Failure(
                "request-expired",
                "Request is not valid yet",
                s3_message="Request is not valid yet",
                presigned=True,
            )
        if now > expires_at:
            raise SigV4Failure(
                "presign-expired",
                "Request has expired",
                s3_message="Request has expired",
                s3_fields={
                    "X-Amz-Expires": str(seconds),
                    "Expires": _fmt_iso(expires_at),
                    "ServerTime": _fmt_iso(now),
                },
                presigned=True,
            )
        return expires_at
    if now - amz_date > MAX_SKEW:
        limit = (now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise SigV4Failure(
            "presign-expired" if presigned else "request-expired",
            f"Signature expired: {amz_text} is now earlier than {limit} ({_amz(now)} - 15 min.)",
            s3_message="The difference between the request time and the current time is too large.",
            s3_fields={**skew_fields, "ServerTime": _fmt_iso(now)},
            presigned=presigned,
        )
    if amz_date - now > MAX_SKEW:
        limit = (now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise SigV4Failure(
            "request-expired",
            f"Signature not yet current: {amz_text} is still later than {limit} ({_amz(now)} + 15 min.)",
            s3_message="The difference between the request time and the current time is too large.",
            s3_fields={**skew_fields, "ServerTime": _fmt_iso(now)},
            presigned=presigned,
        )
    return amz_date + MAX_SKEW if presigned else None


def _bad_token(presigned: bool) -> SigV4Failure:
    failure = bad_token_failure()
    failure.presigned = presigned
    return failure


def _payload_mismatch(claimed: str, computed: str, presigned: bool) -> SigV4Failure:
    return SigV4Failure(
        "payload-hash-mismatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        s3_message="The provided 'x-amz-content-sha256' header does not match what was computed.",
        s3_fields={"ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": computed},
        presigned=presigned,
    )


def _body_hash(request: HttpRequest) -> str:
    return hashlib.sha256(request.body).hexdigest() if request.body else EMPTY_SHA256


def _payload_hash(request: HttpRequest, s3: bool, presigned: bool) -> tuple[str, bool]:
    """The payload hash that goes into the canonical request, and whether the body was checked."""
    claimed = request.headers.get("x-amz-content-sha256")
    if not s3:
        return _body_hash(request), True
    if claimed is None:
        if presigned:
            return UNSIGNED_PAYLOAD, True
        raise SigV4Failure(
            "missing-payload-hash",
            "Missing required header for this request: x-amz-content-sha256",
            s3_message="Missing required header for this request: x-amz-content-sha256",
        )
    if claimed == UNSIGNED_PAYLOAD or claimed in STREAMING_MODES:
        return claimed, True
    if _HEX64.fullmatch(claimed):
        return claimed, request.stream is None
    raise SigV4Failure(
        "invalid-payload-hash",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
        "or a valid sha256 value.",
        presigned=presigned,
    )


# --------------------------------------------------------------------------- S3 SigV2 (legacy)

# Sub-resources that belong to SigV2's CanonicalizedResource (botocore's `HmacV1Auth` list).
_V2_SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber", "policy",
        "requestPayment", "torrent", "versioning", "versionId", "versions", "website", "uploads",
        "uploadId", "response-content-type", "response-content-language", "response-expires",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "delete", "lifecycle", "tagging", "restore", "storageClass", "notification", "replication",
        "analytics", "metrics", "inventory", "select", "select-type", "object-lock",
    }
)  # fmt: skip


def _is_v2(request: HttpRequest) -> bool:
    auth = request.headers.get("authorization")
    if auth is not None:
        return auth.startswith("AWS ")
    return "AWSAccessKeyId=" in request.query or (
        "Signature=" in request.query and "X-Amz-" not in request.query
    )


def _v2_resources(request: HttpRequest) -> list[str]:
    """CanonicalizedResource candidates: the path, then `/bucket` + path for each way the Host
    header could name a virtual-hosted bucket (the signature decides which one the client meant)."""
    subs: list[tuple[str, str]] = []
    for piece in request.query.split("&") if request.query else ():
        name, sep, value = piece.partition("=")
        if name in _V2_SUBRESOURCES:
            subs.append((name, f"{name}={unquote(value)}" if sep else name))
    subs.sort(key=lambda item: item[0])
    suffix = "&".join(text for _, text in subs)
    path = request.path or "/"
    paths = [path]
    host = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else ""
    labels = host.split(".")
    if len(labels) > 1 and not host.replace(".", "").isdigit():
        paths += ["/" + ".".join(labels[:i]) + path for i in range(1, len(labels))]
    return [p + ("?" + suffix if suffix else "") for p in paths]


def _verify_v2(request: HttpRequest, lookup: CredentialLookup, now: datetime) -> VerifiedRequest:
    auth = request.headers.get("authorization")
    pairs = _split_query(request.query)
    query = {name: unquote(value) for name, value in reversed(pairs)}
    presigned = auth is None
    if presigned:
        akid, signature, expires = query.get("AWSAccessKeyId"), query.get("Signature"), query.get("Expires")
        if not akid or not signature or not expires:
            raise SigV4Failure(
                "incomplete-signature",
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
                s3_message="Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
                "parameters",
                presigned=True,
                s3_code=("AccessDenied", 403),
            )
        if not expires.isdigit():
            raise SigV4Failure(
                "incomplete-signature",
                "Invalid Expires",
                s3_message="Invalid date (should be seconds since epoch): " + expires,
                presigned=True,
                s3_code=("AccessDenied", 403),
            )
        expires_at = datetime.fromtimestamp(int(expires), UTC)
        if now > expires_at:
            raise SigV4Failure(
                "presign-expired",
                "Request has expired",
                s3_message="Request has expired",
                s3_fields={"Expires": _fmt_iso(expires_at), "ServerTime": _fmt_iso(now)},
                presigned=True,
            )
        date_line, when = expires, expires_at
        token = request.headers.get("x-amz-security-token") or query.get("x-amz-security-token")
    else:
        assert auth is not None
        akid, _, signature = auth[4:].strip().rpartition(":")
        if not akid or not signature:
            raise SigV4Failure(
                "incomplete-signature",
                "AWS authorization header is invalid. Expected AwsAccessKeyId:signature",
                s3_message="AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                s3_code=("InvalidArgument", 400),
            )
        date_text = request.headers.get("x-amz-date") or request.headers.get("date")
        try:
            parsed_date = parsedate_to_datetime(date_text) if date_text else None
        except (TypeError, ValueError):
            parsed_date = None
        if parsed_date is None:
            raise SigV4Failure(
                "missing-auth",
                "AWS authentication requires a valid Date or x-amz-date header",
                s3_message="AWS authentication requires a valid Date or x-amz-date header",
            )
        when = parsed_date if parsed_date.tzinfo else parsed_date.replace(tzinfo=UTC)
        if abs(now - when) > MAX_SKEW:
            raise SigV4Failure(
                "request-expired",
                "The difference between the request time and the current time is too large.",
                s3_fields={
                    "RequestTime": date_text or "",
                    "ServerTime": _fmt_iso(now),
                    "MaxAllowedSkewMilliseconds": "900000",
                },
            )
        date_line = "" if "x-amz-date" in request.headers else request.headers.get("date", "")
        expires_at = None
        token = request.headers.get("x-amz-security-token")

    credential = lookup(akid, token)
    if credential.session_token is not None:
        if token is None:
            raise SigV4Failure(
                "missing-token",
                "The security token included in the request is invalid.",
                s3_message="The AWS Access Key Id you provided does not exist in our records.",
                s3_fields={"AWSAccessKeyId": akid},
                presigned=presigned,
            )
        if not hmac.compare_digest(credential.session_token.encode(), token.encode()):
            raise _bad_token(presigned)
    elif token is not None:
        raise _bad_token(presigned)

    amz: dict[str, list[str]] = {}
    for name, value in request.headers.raw:
        lname = name.lower()
        if lname.startswith("x-amz-"):
            amz.setdefault(lname, []).append(value.strip())
    if presigned:
        for name, value in query.items():
            if name.lower().startswith("x-amz-") and name.lower() not in amz:
                amz[name.lower()] = [value.strip()]
    amz_lines = "".join(f"{k}:{','.join(v)}\n" for k, v in sorted(amz.items()))
    md5 = request.headers.get("content-md5", query.get("content-md5", "") if presigned else "").strip()
    ctype = request.headers.get("content-type", query.get("content-type", "") if presigned else "").strip()
    head = f"{request.method.upper()}\n{md5}\n{ctype}\n{date_line}\n{amz_lines}"
    key = credential.secret_access_key.encode()
    string_to_sign = head
    for resource in _v2_resources(request):
        string_to_sign = head + resource
        digest = hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()
        expected = base64.b64encode(digest).decode()
        if hmac.compare_digest(expected.encode(), signature.encode()):
            break
    else:
        raise SigV4Failure(
            "bad-signature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation "
            "for details.",
            s3_message="The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            s3_fields={
                "AWSAccessKeyId": akid,
                "StringToSign": string_to_sign,
                "SignatureProvided": signature,
                "StringToSignBytes": " ".join(f"{b:02x}" for b in string_to_sign.encode()),
            },
            presigned=presigned,
        )
    return VerifiedRequest(
        scope=CredentialScope(akid, when.strftime("%Y%m%d"), "", "s3", "", presigned),
        credential=credential,
        signed_headers=(),
        signature=signature,
        payload_hash=UNSIGNED_PAYLOAD,  # SigV2 does not cover the payload (Content-MD5 may)
        signing_key=b"",
        presigned=presigned,
        amz_date=when,
        amz_date_text=when.strftime(AMZ_DATE_FORMAT),
        payload_checked=True,
        expires_at=expires_at,
        signature_version=2,
    )


# --------------------------------------------------------------------------- errors per protocol

# kind -> (query, json, rest-json) (code, status); rest-xml (S3) is handled apart.
_CODES: dict[str, tuple[tuple[str, int], tuple[str, int], tuple[str, int]]] = {
    "missing-auth": (
        ("MissingAuthenticationToken", 403),
        ("MissingAuthenticationTokenException", 400),
        ("MissingAuthenticationTokenException", 403),
    ),
    "incomplete-signature": (
        ("IncompleteSignature", 400),
        ("IncompleteSignatureException", 400),
        ("IncompleteSignatureException", 403),
    ),
    "unknown-key": (
        ("InvalidClientTokenId", 403),
        ("UnrecognizedClientException", 400),
        ("UnrecognizedClientException", 403),
    ),
    "bad-signature": (
        ("SignatureDoesNotMatch", 403),
        ("InvalidSignatureException", 400),
        ("InvalidSignatureException", 403),
    ),
    "expired-token": (("ExpiredToken", 403), ("ExpiredTokenException", 400), ("ExpiredTokenException", 403)),
}
_SAME_AS = {
    "unsupported-algorithm": "incomplete-signature",
    "headers-not-signed": "incomplete-signature",
    "missing-payload-hash": "incomplete-signature",
    "invalid-payload-hash": "incomplete-signature",
    "bad-scope": "bad-signature",
    "request-expired": "bad-signature",
    "presign-expired": "bad-signature",
    "payload-hash-mismatch": "bad-signature",
    "bad-token": "unknown-key",
    "missing-token": "unknown-key",
}
_S3_CODES: dict[str, tuple[str, int]] = {
    "missing-auth": ("AccessDenied", 403),
    "unsupported-algorithm": ("InvalidRequest", 400),
    "headers-not-signed": ("AccessDenied", 403),
    "request-expired": ("RequestTimeTooSkewed", 403),
    "presign-expired": ("AccessDenied", 403),
    "unknown-key": ("InvalidAccessKeyId", 403),
    "missing-token": ("InvalidAccessKeyId", 403),
    "bad-token": ("InvalidToken", 400),
    "expired-token": ("ExpiredToken", 400),
    "bad-signature": ("SignatureDoesNotMatch", 403),
    "missing-payload-hash": ("InvalidRequest", 400),
    "invalid-payload-hash": ("InvalidArgument", 400),
    "payload-hash-mismatch": ("XAmzContentSHA256Mismatch", 400),
}


_S3_DEFAULT_MESSAGES = {
    "unknown-key": "The AWS Access Key Id you provided does not exist in our records.",
    "bad-token": "The provided token is malformed or otherwise invalid.",
    "expired-token": "The provided token has expired.",
}


def error_for(failure: SigV4Failure, protocol: str) -> AwsError:
    """The `AwsError` the real service sends for `failure` in a protocol.

    `protocol` is botocore's name: `query` (IAM, STS), `json`, `rest-json` (EKS, EKS Auth) or
    `rest-xml` (S3).
    """
    if protocol == "rest-xml":
        return _s3_error(failure)
    column = {"query": 0, "ec2": 0, "json": 1, "rest-json": 2}.get(protocol)
    if column is None:
        raise ValueError(f"unknown protocol {protocol!r}")
    kind = _SAME_AS.get(failure.kind, failure.kind)
    code, status = _CODES[kind][column]
    return AwsError(failure.message, code=code, status=status, sender_fault=True)


def _s3_error(failure: SigV4Failure) -> AwsError:
    message = failure.s3_message or failure.message
    fields = dict(failure.s3_fields)
    kind = failure.kind
    if failure.s3_code is not None:
        code, status = failure.s3_code
    elif kind in ("incomplete-signature", "bad-scope"):
        code, status = (
            ("AuthorizationQueryParametersError" if failure.presigned else "AuthorizationHeaderMalformed"),
            400,
        )
    elif kind == "unsupported-algorithm" and failure.presigned:
        code, status = "AuthorizationQueryParametersError", 400
    elif kind == "request-expired" and failure.presigned:
        code, status = "AccessDenied", 403
    else:
        code, status = _S3_CODES[kind]
    if failure.s3_message is None and kind in _S3_DEFAULT_MESSAGES:
        message = _S3_DEFAULT_MESSAGES[kind]
    return AwsError(message, code=code, status=status, sender_fault=True, fields=fields)
