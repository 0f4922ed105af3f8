"""S3's legacy Signature Version 2, which S3 alone still accepts.

botocore and `aws s3 presign` presign S3 URLs with SigV2 by default in us-east-1 and us-west-2
(`AWSAccessKeyId`/`Signature`/`Expires`), and old clients send `Authorization: AWS key:signature`.
`verify_v2` checks either form (HMAC-SHA1 over the SigV2 string to sign, expiry or a 15-minute
`Date` window, the session token) and returns the same `VerifiedRequest` as SigV4.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from podid.wire.http import HttpRequest
from podid.wire.sigv4_errors import SigV4Failure, bad_token_failure
from podid.wire.sigv4_model import (
    AMZ_DATE_FORMAT,
    MAX_SKEW,
    UNSIGNED_PAYLOAD,
    CredentialLookup,
    CredentialScope,
    VerifiedRequest,
    fmt_iso,
    split_query,
)

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


def is_v2(request: HttpRequest) -> bool:
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


def verify_v2(request: HttpRequest, lookup: CredentialLookup, now: datetime) -> VerifiedRequest:
    auth = request.headers.get("authorization")
    pairs = split_query(request.query)
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
                s3_fields={"Expires": fmt_iso(expires_at), "ServerTime": fmt_iso(now)},
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
                    "ServerTime": fmt_iso(now),
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
            raise bad_token_failure(presigned)
    elif token is not None:
        raise bad_token_failure(presigned)

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
