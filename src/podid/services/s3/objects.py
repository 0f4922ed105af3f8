"""S3 object operations: put, get, head, delete (one and many), copy, object tagging."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from podid.errors import AwsError
from podid.services.base import AuthzCheck, Call, ContextValue, Params, Result, operation
from podid.services.s3 import errors
from podid.services.s3.authz import tag_context
from podid.services.s3.common import (
    S3Base,
    check_object_acl,
    check_tags,
    checksum_fields,
    content_headers,
    header_tags,
    object_headers,
    tag_list,
    tag_set,
    user_metadata,
    when,
)
from podid.services.s3.conditions import check_preconditions, parse_range
from podid.services.s3.domain import MAX_OBJECT_TAGS
from podid.services.s3.incoming import receive_body
from podid.services.s3.model import Bucket, Checksum, ObjectRecord, timestamp
from podid.services.s3.names import check_key

MAX_DELETE_KEYS = 1000


def write_context(p: Params, tags: dict[str, str]) -> dict[str, ContextValue]:
    """Condition keys of requests that create an object (PutObject, CopyObject, multipart)."""
    context: dict[str, ContextValue] = {}
    if p.get("ACL"):
        context["s3:x-amz-acl"] = str(p["ACL"])
    if p.get("StorageClass"):
        context["s3:x-amz-storage-class"] = str(p["StorageClass"])
    if p.get("ServerSideEncryption"):
        context["s3:x-amz-server-side-encryption"] = str(p["ServerSideEncryption"])
    if tags:
        context.update(tag_context("s3:RequestObjectTag", tags))
        context["s3:RequestObjectTagKeys"] = list(tags)
    return context


class ObjectOperations(S3Base):
    def write_checks(
        self, call: Call, bucket: Bucket, key: str, p: Params, tags: dict[str, str]
    ) -> list[AuthzCheck]:
        checks = [self.az.check(call, "s3:PutObject", bucket, key, write_context(p, tags))]
        if tags:  # S3 also requires s3:PutObjectTagging to tag on write
            checks.append(self.az.check(call, "s3:PutObjectTagging", bucket, key, write_context(p, tags)))
        return checks

    def check_overwrite(self, bucket: Bucket, key: str, p: Params) -> None:
        """Conditional writes: `If-None-Match: *` and `If-Match: <etag>`."""
        if_none, if_match = p.get("IfNoneMatch"), p.get("IfMatch")
        if if_none is None and if_match is None:
            return
        existing = self.domain.find_object(bucket.name, key)
        if if_none is not None:
            if if_none.strip() != "*":
                raise errors.invalid_argument("If-None-Match only supports *", "If-None-Match", if_none)
            if existing is not None:
                raise errors.precondition_failed("If-None-Match")
        if if_match is not None:
            if existing is None:
                raise errors.no_such_key(key)
            check_preconditions(
                existing, if_match=if_match, if_none_match=None, if_modified_since=None,
                if_unmodified_since=None, read=False,
            )  # fmt: skip

    def readable(self, call: Call, bucket: Bucket, key: str, action: str = "s3:GetObject") -> ObjectRecord:
        """The object, once `action` is allowed; a missing key is NoSuchKey only for callers who may
        list the bucket (S3 answers AccessDenied otherwise, so that keys cannot be probed)."""
        record = self.domain.find_object(bucket.name, key)
        context = tag_context("s3:ExistingObjectTag", record.tags) if record is not None else {}
        self.az.object(call, action, bucket, key, context)
        if record is None:
            self.az.bucket(call, "s3:ListBucket", bucket)
            raise errors.no_such_key(key)
        return record

    @operation("PutObject")
    async def put_object(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        check_key(key)
        tags = header_tags(p.get("Tagging"))
        self.az.require(call, *self.write_checks(call, bucket, key, p, tags))
        check_object_acl(p)
        self.check_overwrite(bucket, key, p)
        received = await receive_body(call, p, self.domain.blobs)
        staged = received.staged
        try:
            self.check_overwrite(bucket, key, p)  # the body took time: check again before the switch
        except AwsError:
            self.domain.blobs.discard(staged)
            raise
        record = ObjectRecord(
            key=key,
            blob="",
            size=staged.size,
            etag=f'"{staged.md5_hex}"',
            modified=timestamp(call.now),
            owner=call.account,
            content_type=str(p.get("ContentType") or "binary/octet-stream"),
            headers=content_headers(p),
            metadata=user_metadata(p),
            tags=tags,
            checksum=Checksum(received.algorithm, received.checksum),
            storage_class=str(p.get("StorageClass") or "STANDARD"),
        )
        self.domain.store_object(bucket.name, record, staged)
        return {
            "ETag": record.etag,
            "Size": record.size,
            "ServerSideEncryption": "AES256",
            **checksum_fields(record.checksum),
        }

    def _read(self, call: Call, p: Params) -> tuple[ObjectRecord, Result, tuple[int, int] | None]:
        bucket = self.existing_bucket(call, p)
        record = self.readable(call, bucket, str(p["Key"]))
        check_preconditions(
            record,
            if_match=p.get("IfMatch"),
            if_none_match=p.get("IfNoneMatch"),
            if_modified_since=p.get("IfModifiedSince"),
            if_unmodified_since=p.get("IfUnmodifiedSince"),
        )
        out = object_headers(record)
        span: tuple[int, int] | None = None
        part = p.get("PartNumber")
        if part is not None:
            sizes = record.part_sizes or [record.size]
            if not 1 <= int(part) <= len(sizes):
                raise errors.invalid_range(record.size, f"partNumber={part}")
            start = sum(sizes[: int(part) - 1])
            span = (start, start + sizes[int(part) - 1] - 1)
            if record.part_sizes:  # S3 gives the part count of multipart objects only
                out["PartsCount"] = len(sizes)
        else:
            span = parse_range(p.get("Range"), record.size)
        if span is not None:
            out["ContentRange"] = f"bytes {span[0]}-{span[1]}/{record.size}"
            out["ContentLength"] = span[1] - span[0] + 1
        else:
            out["ContentLength"] = record.size
            if p.get("ChecksumMode") == "ENABLED":
                out.update(checksum_fields(record.checksum))
        for name in (
            "CacheControl",
            "ContentDisposition",
            "ContentEncoding",
            "ContentLanguage",
            "ContentType",
        ):
            override = p.get("Response" + name)
            if override is not None:
                out[name] = override
        if p.get("ResponseExpires") is not None:
            out["Expires"] = p["ResponseExpires"]
        return record, out, span

    @operation("GetObject")
    def get_object(self, call: Call, p: Params) -> Result:
        record, out, span = self._read(call, p)
        if record.tags:
            out["TagCount"] = len(record.tags)
        if span is None:
            out["Body"] = self.domain.blobs.read(record.blob) if record.size else b""
        else:
            out["Body"] = self.domain.blobs.read(record.blob, span[0], span[1] - span[0] + 1)
        return out

    @operation("HeadObject")
    def head_object(self, call: Call, p: Params) -> Result:
        return self._read(call, p)[1]

    @operation("DeleteObject")
    def delete_object(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:DeleteObject", bucket, key)
        self.domain.delete_object(bucket.name, key)
        return {}

    @operation("DeleteObjects")
    async def delete_objects(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        headers = call.request.headers if call.request is not None else {}
        if "content-md5" not in headers and not any(h.lower().startswith("x-amz-checksum-") for h in headers):
            raise errors.invalid_request("Missing required header for this request: Content-MD5")
        p = await self.body_params(call, p)
        delete = p.get("Delete")
        if not delete or not delete.get("Objects"):
            raise errors.malformed_xml()
        objects = delete["Objects"]
        if len(objects) > MAX_DELETE_KEYS:
            raise errors.malformed_xml()
        quiet = bool(delete.get("Quiet"))
        deleted: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for item in objects:
            key = str(item.get("Key", ""))
            try:
                self.az.object(call, "s3:DeleteObject", bucket, key)
                self.domain.delete_object(bucket.name, key)
            except AwsError as err:
                failed.append({"Key": key, "Code": err.code, "Message": err.message})
                continue
            if not quiet:
                deleted.append({"Key": key})
        out: Result = {}
        if deleted:
            out["Deleted"] = deleted
        if failed:
            out["Errors"] = failed
        return out

    # ------------------------------------------------------------------ copy

    def copy_source(self, call: Call, text: str) -> tuple[Bucket, ObjectRecord]:
        source = unquote(text.split("?versionId=", 1)[0]).lstrip("/")
        name, _, key = source.partition("/")
        if not name or not key:
            raise errors.invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                "x-amz-copy-source",
                text,
            )
        bucket = self.domain.bucket(name)  # a copy source may live in any region
        return bucket, self.readable(call, bucket, key)

    @operation("CopyObject")
    def copy_object(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        check_key(key)
        source_bucket, source = self.copy_source(call, str(p["CopySource"]))
        directive = str(p.get("MetadataDirective") or "COPY")
        tag_directive = str(p.get("TaggingDirective") or "COPY")
        tags = header_tags(p.get("Tagging")) if tag_directive == "REPLACE" else dict(source.tags)
        context = write_context(p, tags if tag_directive == "REPLACE" else {})
        context["s3:x-amz-copy-source"] = str(p["CopySource"])
        context["s3:x-amz-metadata-directive"] = directive
        checks = [self.az.check(call, "s3:PutObject", bucket, key, context)]
        if tag_directive == "REPLACE" and tags:
            checks.append(self.az.check(call, "s3:PutObjectTagging", bucket, key, context))
        self.az.require(call, *checks)
        check_object_acl(p)
        check_preconditions(
            source,
            if_match=p.get("CopySourceIfMatch"),
            if_none_match=p.get("CopySourceIfNoneMatch"),
            if_modified_since=p.get("CopySourceIfModifiedSince"),
            if_unmodified_since=p.get("CopySourceIfUnmodifiedSince"),
            read=False,
        )
        self.check_overwrite(bucket, key, p)
        same = source_bucket.name == bucket.name and source.key == key
        if same and directive != "REPLACE" and not p.get("StorageClass") and tag_directive != "REPLACE":
            raise errors.invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes."
            )
        record = ObjectRecord(
            key=key,
            blob=self.domain.link_blob(source.blob),
            size=source.size,
            etag=source.etag,
            modified=timestamp(call.now),
            owner=call.account,
            content_type=source.content_type,
            headers=dict(source.headers),
            metadata=dict(source.metadata),
            tags=tags,
            checksum=source.checksum,
            part_sizes=source.part_sizes,
            storage_class=str(p.get("StorageClass") or source.storage_class),
        )
        if directive == "REPLACE":
            record.content_type = str(p.get("ContentType") or "binary/octet-stream")
            record.headers = content_headers(p)
            record.metadata = user_metadata(p)
        self.domain.store_object(bucket.name, record)
        result: dict[str, Any] = {"ETag": record.etag, "LastModified": when(record.modified)}
        if record.checksum is not None and record.checksum.type == "FULL_OBJECT":
            result.update(checksum_fields(record.checksum))
        return {"CopyObjectResult": result, "ServerSideEncryption": "AES256"}

    # ------------------------------------------------------------------ object tagging

    @operation("GetObjectTagging")
    def get_object_tagging(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        record = self.readable(call, bucket, str(p["Key"]), "s3:GetObjectTagging")
        return {"TagSet": tag_list(record.tags)}

    @operation("PutObjectTagging")
    async def put_object_tagging(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        p = await self.body_params(call, p)
        if "Tagging" not in p:
            raise errors.malformed_xml()
        tags = check_tags(tag_set(p), MAX_OBJECT_TAGS, "Object")
        record = self.domain.find_object(bucket.name, key)
        context = tag_context("s3:ExistingObjectTag", record.tags) if record is not None else {}
        context.update(tag_context("s3:RequestObjectTag", tags))
        context["s3:RequestObjectTagKeys"] = list(tags)
        self.az.object(call, "s3:PutObjectTagging", bucket, key, context)
        if record is None:
            raise errors.no_such_key(key)
        record.tags = tags
        self.domain.save_object_meta(bucket.name, record)
        return {}

    @operation("DeleteObjectTagging")
    def delete_object_tagging(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        record = self.readable(call, bucket, str(p["Key"]), "s3:DeleteObjectTagging")
        record.tags = {}
        self.domain.save_object_meta(bucket.name, record)
        return {}
