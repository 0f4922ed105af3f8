"""The vocabulary the SigV4 and SigV2 verifiers share: constants, the credential scope, the
credential a lookup returns, the verified request, and the canonical-request building blocks
(canonical path, query and headers, the cached signing key) that AWS Signature Version 4 defines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote

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

# Characters that need no percent-encoding in a canonical path segment (RFC 3986 unreserved).
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9\-_.~/]*")
_UNRESERVED_QUERY = re.compile(r"[A-Za-z0-9\-_.~]*")


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


def split_query(query: str) -> list[tuple[str, str]]:
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


def format_amz_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def fmt_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
