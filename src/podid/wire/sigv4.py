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

S3 alone also accepts its legacy Signature Version 2 (`podid.wire.sigv2`), because botocore and
`aws s3 presign` still presign with it by default in us-east-1 and us-west-2.

The pieces live in sibling modules and are re-exported here, so `from podid.wire.sigv4 import ...`
is the one import: `sigv4_model` (constants, types, canonical request, signing key, regions),
`sigv4_parse` (reading the claimed signature), `sigv4_errors` (failures and per-protocol errors),
`sigv2` (S3's legacy signatures).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

from podid.wire.http import HttpRequest
from podid.wire.sigv2 import is_v2, verify_v2
from podid.wire.sigv4_errors import (
    FailureKind,
    SigV4Failure,
    bad_token_failure,
    error_for,
    expired_token_failure,
    payload_mismatch_failure,
    unknown_key_failure,
)
from podid.wire.sigv4_model import (
    ALGORITHM,
    AMZ_DATE_FORMAT,
    EMPTY_SHA256,
    MAX_PRESIGN_EXPIRES,
    MAX_SKEW,
    STREAMING_MODES,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    TERMINATOR,
    UNSIGNED_PAYLOAD,
    CredentialLookup,
    CredentialScope,
    SigningCredential,
    VerifiedRequest,
    canonical_headers,
    canonical_path,
    canonical_query,
    fmt_iso,
    format_amz_date,
    hmac_hex,
    signing_key,
    valid_regions,
)
from podid.wire.sigv4_parse import ParsedAuth, credential_scope, parse_amz_date, parse_auth

__all__ = [
    "ALGORITHM",
    "AMZ_DATE_FORMAT",
    "EMPTY_SHA256",
    "MAX_PRESIGN_EXPIRES",
    "MAX_SKEW",
    "STREAMING_MODES",
    "STREAMING_SIGNED",
    "STREAMING_SIGNED_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "TERMINATOR",
    "UNSIGNED_PAYLOAD",
    "CredentialLookup",
    "CredentialScope",
    "FailureKind",
    "SigV4Failure",
    "SigningCredential",
    "VerifiedRequest",
    "bad_token_failure",
    "canonical_headers",
    "canonical_path",
    "canonical_query",
    "credential_scope",
    "error_for",
    "expired_token_failure",
    "signing_key",
    "unknown_key_failure",
    "valid_regions",
    "verify_request",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")


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
    for us-east-1 and us-west-2); see `podid.wire.sigv2.verify_v2`.
    """
    if s3 and is_v2(request):
        return verify_v2(request, lookup, now)
    parsed = parse_auth(request, s3)
    presigned = parsed.presigned
    scope = _check_scope(parsed, service, s3)
    assert parsed.date_text is not None  # parse_auth guarantees a date
    amz_date, amz_text = parse_amz_date(parsed.date_text, parsed.date_from_header, presigned)
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
            raise bad_token_failure(presigned)
    elif parsed.token is not None:
        raise bad_token_failure(presigned)

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
    expected = hmac_hex(key, string_to_sign)
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
            raise payload_mismatch_failure(claimed, payload_hash, presigned)
    if s3 and payload_checked and _HEX64.fullmatch(payload_hash) and request.stream is None:
        computed = hashlib.sha256(request.body).hexdigest()
        if computed != payload_hash:
            raise payload_mismatch_failure(payload_hash, computed, presigned)
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


def _check_scope(parsed: ParsedAuth, service: str | None, s3: bool) -> CredentialScope:
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
                    "Expires": fmt_iso(expires_at),
                    "ServerTime": fmt_iso(now),
                },
                presigned=True,
            )
        return expires_at
    if now - amz_date > MAX_SKEW:
        limit = (now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise SigV4Failure(
            "presign-expired" if presigned else "request-expired",
            f"Signature expired: {amz_text} is now earlier than {limit} ({format_amz_date(now)} - 15 min.)",
            s3_message="The difference between the request time and the current time is too large.",
            s3_fields={**skew_fields, "ServerTime": fmt_iso(now)},
            presigned=presigned,
        )
    if amz_date - now > MAX_SKEW:
        limit = (now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise SigV4Failure(
            "request-expired",
            f"Signature not yet current: {amz_text} is still later than {limit} "
            f"({format_amz_date(now)} + 15 min.)",
            s3_message="The difference between the request time and the current time is too large.",
            s3_fields={**skew_fields, "ServerTime": fmt_iso(now)},
            presigned=presigned,
        )
    return amz_date + MAX_SKEW if presigned else None


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
