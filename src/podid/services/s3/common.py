"""What every S3 operation handler shares: the domain, the authorizer, bodies and response pieces."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from podid.errors import AccessDenied, AwsError
from podid.services.base import Call, Params, Provider
from podid.services.s3 import errors
from podid.services.s3.authz import S3Authorizer
from podid.services.s3.domain import MAX_OBJECT_TAGS, S3Domain
from podid.services.s3.incoming import check_small_body, read_small
from podid.services.s3.model import Bucket, Checksum, ObjectRecord, canonical_user_id, parse_time
from podid.wire.protocol import ServiceWire

CHECKSUM_MEMBERS = {
    "CRC32": "ChecksumCRC32",
    "CRC32C": "ChecksumCRC32C",
    "CRC64NVME": "ChecksumCRC64NVME",
    "SHA1": "ChecksumSHA1",
    "SHA256": "ChecksumSHA256",
}


class S3Base(Provider):
    service_name = "s3"

    def __init__(self, domain: S3Domain, az: S3Authorizer) -> None:
        self.domain = domain
        self.az = az
        self.wire = ServiceWire.for_service("s3")

    async def body_params(self, call: Call, params: Params) -> Params:
        """The params of an operation with an XML (or text) body that the gateway streamed unread.

        The body is read (bounded, verified like any upload: SHA-256, aws-chunked, checksums,
        Content-MD5) and the request parsed again by the wire layer with the body in place.
        """
        request = call.request
        if request is None:
            return params
        if request.stream is None:
            check_small_body(call, request.body)
            return params
        body = await read_small(call, self.domain.blobs)
        fresh = replace(request, body=body, stream=None)
        bucket = params.get("Bucket")
        host = request.host.rsplit(":", 1)[0]
        vhost = bucket if isinstance(bucket, str) and host.startswith(bucket + ".") else None
        return self.wire.parse(fresh, bucket_from_host=vhost).params

    def existing_bucket(self, call: Call, p: Params) -> Bucket:
        """The bucket a request addresses: `NoSuchBucket`, or S3's wrong-region answer.

        A SigV4 request signed for another region than the bucket's is refused as S3 refuses it, with
        the bucket's region in `x-amz-bucket-region` (and `<Region>`): `AuthorizationHeaderMalformed`
        400 (header auth) or `AuthorizationQueryParametersError` 400 (presigned). botocore follows
        it: it re-signs for that region and retries. SigV2 carries no region and is always served.
        `x-amz-expected-bucket-owner` naming another account is `AccessDenied`, as in S3.
        """
        bucket = self.domain.bucket(str(p["Bucket"]))
        v = call.signature
        if v is not None and v.signature_version == 4 and v.scope.region != bucket.region:
            raise errors.wrong_region(v.scope.region, bucket.region, presigned=v.presigned)
        expected = p.get("ExpectedBucketOwner")
        if expected is not None and expected != bucket.account:
            raise AccessDenied("Access Denied")
        return bucket


def owner(account: str) -> dict[str, str]:
    return {"ID": canonical_user_id(account)}


def when(text: str) -> datetime:
    return parse_time(text)


def checksum_fields(checksum: Checksum | None) -> dict[str, Any]:
    if checksum is None or checksum.algorithm not in CHECKSUM_MEMBERS:
        return {}
    return {CHECKSUM_MEMBERS[checksum.algorithm]: checksum.value, "ChecksumType": checksum.type}


def encode_if(enabled: bool, value: str | None) -> str | None:
    """`encoding-type=url`: S3 URL-encodes keys and prefixes in listings (botocore decodes them)."""
    if value is None or not enabled:
        return value
    return quote_plus(value, safe="/")


def check_tags(tags: list[tuple[str, str]], limit: int, what: str) -> dict[str, str]:
    if len(tags) > limit:
        raise errors.invalid_tag(f"{what} tags cannot be greater than {limit}")
    out: dict[str, str] = {}
    for key, value in tags:
        if key in out:
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
        if not key or len(key) > 128:
            raise errors.invalid_tag("The TagKey you have provided is invalid")
        if len(value) > 256:
            raise errors.invalid_tag("The TagValue you have provided is invalid")
        if key.lower().startswith("aws:"):
            raise errors.invalid_tag("System tags cannot be added/updated by requester")
        out[key] = value
    return out


def tag_set(params: Params) -> list[tuple[str, str]]:
    tagging = params.get("Tagging") or {}
    return [(str(t.get("Key", "")), str(t.get("Value", ""))) for t in tagging.get("TagSet") or []]


def header_tags(text: str | None) -> dict[str, str]:
    """The `x-amz-tagging` header of PutObject/CreateMultipartUpload/CopyObject (a query string)."""
    if not text:
        return {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise errors.invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters "
            "without tag name duplicates.",
            "x-amz-tagging",
            text,
        ) from None
    return check_tags(pairs, MAX_OBJECT_TAGS, "Object")


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


CONTENT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")


def content_headers(params: Params) -> dict[str, str]:
    out = {name: str(params[name]) for name in CONTENT_HEADERS if params.get(name) is not None}
    expires = params.get("Expires")
    if isinstance(expires, datetime):
        out["Expires"] = expires.isoformat()
    return out


MAX_METADATA_BYTES = 2048


def user_metadata(params: Params) -> dict[str, str]:
    """`x-amz-meta-*` as S3 stores it (lower-case names), at most 2 KB of UTF-8 names and values."""
    found = {str(k).lower(): str(v) for k, v in (params.get("Metadata") or {}).items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in found.items())
    if size > MAX_METADATA_BYTES:
        raise AwsError(
            "Your metadata headers exceed the maximum allowed metadata size",
            code="MetadataTooLarge",
            status=400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)},
        )
    return found


def object_headers(record: ObjectRecord) -> dict[str, Any]:
    """The members GetObject and HeadObject share."""
    out: dict[str, Any] = {
        "ETag": record.etag,
        "LastModified": when(record.modified),
        "ContentType": record.content_type,
        "AcceptRanges": "bytes",
        "ServerSideEncryption": "AES256",  # S3's default encryption of every new object (SSE-S3)
    }
    for name in CONTENT_HEADERS:
        if name in record.headers:
            out[name] = record.headers[name]
    if "Expires" in record.headers:
        out["Expires"] = datetime.fromisoformat(record.headers["Expires"])
    if record.metadata:
        out["Metadata"] = dict(record.metadata)
    if record.storage_class != "STANDARD":
        out["StorageClass"] = record.storage_class
    return out


GRANT_MEMBERS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWrite", "GrantWriteACP")


def check_object_acl(params: Params) -> None:
    """With ACLs disabled S3 accepts only no ACL or `bucket-owner-full-control` on object writes."""
    acl = params.get("ACL")
    if (acl is not None and acl != "bucket-owner-full-control") or any(params.get(g) for g in GRANT_MEMBERS):
        raise errors.acl_not_supported()
