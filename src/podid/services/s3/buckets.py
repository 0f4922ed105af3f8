"""S3 bucket operations: list, create, delete, head, location, policy, tagging, object listings."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from podid.services.base import AuthzCheck, Call, ContextValue, Params, Result, operation
from podid.services.s3 import errors
from podid.services.s3.common import (
    GRANT_MEMBERS,
    S3Base,
    check_tags,
    encode_if,
    owner,
    tag_list,
    tag_set,
    when,
)
from podid.services.s3.domain import MAX_BUCKET_TAGS
from podid.services.s3.listing import decode_token, encode_token, list_page
from podid.services.s3.model import Bucket
from podid.services.s3.names import check_bucket_name


class BucketOperations(S3Base):
    @operation("ListBuckets")
    def list_buckets(self, call: Call, p: Params) -> Result:
        self.az.require(call, self.az.check(call, "s3:ListAllMyBuckets", None))
        buckets = sorted(self.domain.buckets_of(call.account), key=lambda b: b.name)
        prefix = p.get("Prefix")
        region = p.get("BucketRegion")
        if prefix:
            buckets = [b for b in buckets if b.name.startswith(prefix)]
        if region:
            buckets = [b for b in buckets if b.region == region]
        token = p.get("ContinuationToken")
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (binascii.Error, ValueError, UnicodeError):
                raise errors.invalid_argument(
                    "Invalid continuation token", "continuation-token", token
                ) from None
            buckets = [b for b in buckets if b.name > after]
        out: Result = {"Owner": owner(call.account)}
        limit = p.get("MaxBuckets")
        if isinstance(limit, int) and len(buckets) > limit:
            buckets = buckets[:limit]
            out["ContinuationToken"] = base64.urlsafe_b64encode(buckets[-1].name.encode()).decode()
        out["Buckets"] = [
            {"Name": b.name, "CreationDate": when(b.created), "BucketRegion": b.region} for b in buckets
        ]
        if prefix:
            out["Prefix"] = prefix
        return out

    @operation("CreateBucket")
    async def create_bucket(self, call: Call, p: Params) -> Result:
        name = str(p["Bucket"])
        check_bucket_name(name)
        p = await self.body_params(call, p)
        constraint = (p.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        context: dict[str, ContextValue] = {}
        if constraint:
            context["s3:LocationConstraint"] = str(constraint)
        if p.get("ACL"):
            context["s3:x-amz-acl"] = str(p["ACL"])
        if p.get("ObjectOwnership"):
            context["s3:x-amz-object-ownership"] = str(p["ObjectOwnership"])
        base = self.az.base_context(call, None)
        self.az.require(
            call,
            AuthzCheck("s3:CreateBucket", f"arn:aws:s3:::{name}", {**base, **context}, None, call.account),
        )
        ownership = p.get("ObjectOwnership") or "BucketOwnerEnforced"
        if ownership == "BucketOwnerEnforced" and (
            p.get("ACL") not in (None, "private") or any(p.get(g) for g in GRANT_MEMBERS)
        ):
            raise errors.bucket_acl_with_ownership()
        self.domain.create_bucket(name, call.account, call.region, constraint)
        return {"Location": f"/{name}"}

    @operation("DeleteBucket")
    def delete_bucket(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:DeleteBucket", bucket)
        self.domain.delete_bucket(bucket.name)
        return {}

    @operation("HeadBucket")
    def head_bucket(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:ListBucket", bucket)
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    @operation("GetBucketLocation")
    def get_bucket_location(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketLocation", bucket)
        # us-east-1 buckets have a null location constraint.
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    # ------------------------------------------------------------------ policy

    @operation("PutBucketPolicy")
    async def put_bucket_policy(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:PutBucketPolicy", bucket)
        p = await self.body_params(call, p)
        policy = p.get("Policy")
        if not policy:
            raise errors.malformed_policy("Policies must be valid JSON and the first byte must be '{'")
        self.domain.put_bucket_policy(bucket, str(policy))
        return {}

    @operation("GetBucketPolicy")
    def get_bucket_policy(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketPolicy", bucket)
        if bucket.policy is None:
            raise errors.no_such_bucket_policy(bucket.name)
        return {"Policy": bucket.policy}

    @operation("DeleteBucketPolicy")
    def delete_bucket_policy(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:DeleteBucketPolicy", bucket)
        bucket.policy = None
        self.domain.save_bucket(bucket)
        return {}

    # ------------------------------------------------------------------ tagging

    @operation("PutBucketTagging")
    async def put_bucket_tagging(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        p = await self.body_params(call, p)
        if "Tagging" not in p:
            raise errors.malformed_xml()
        tags = check_tags(tag_set(p), MAX_BUCKET_TAGS, "Bucket")
        context: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
        context["aws:TagKeys"] = list(tags)
        self.az.bucket(call, "s3:PutBucketTagging", bucket, context)
        bucket.tags = tags
        self.domain.save_bucket(bucket)
        return {}

    @operation("GetBucketTagging")
    def get_bucket_tagging(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketTagging", bucket)
        if not bucket.tags:
            raise errors.no_such_tag_set(bucket.name)
        return {"TagSet": tag_list(bucket.tags)}

    @operation("DeleteBucketTagging")
    def delete_bucket_tagging(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        # S3 authorizes DeleteBucketTagging with s3:PutBucketTagging.
        self.az.bucket(call, "s3:PutBucketTagging", bucket)
        bucket.tags = None
        self.domain.save_bucket(bucket)
        return {}

    # ------------------------------------------------------------------ listings

    def _list_context(self, p: Params) -> dict[str, ContextValue]:
        context: dict[str, ContextValue] = {}
        if p.get("Prefix") is not None:
            context["s3:prefix"] = str(p["Prefix"])
        if p.get("Delimiter") is not None:
            context["s3:delimiter"] = str(p["Delimiter"])
        if p.get("MaxKeys") is not None:
            context["s3:max-keys"] = str(p["MaxKeys"])
        return context

    def _listing(self, call: Call, p: Params, after: str) -> tuple[Bucket, Any, int]:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:ListBucket", bucket, self._list_context(p))
        if p.get("EncodingType") not in (None, "url"):
            raise errors.invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", "")
        max_keys = p.get("MaxKeys")
        limit = 1000 if max_keys is None else min(int(max_keys), 1000)
        if limit < 0:
            raise errors.invalid_argument(
                "Provided max-keys not an integer or within integer range", "max-keys", str(max_keys)
            )
        page = list_page(
            self.domain.keys(bucket.name),
            prefix=str(p.get("Prefix") or ""),
            delimiter=str(p.get("Delimiter") or ""),
            after=after,
            max_keys=limit,
        )
        return bucket, page, limit

    def _contents(self, bucket: Bucket, keys: list[str], url: bool, with_owner: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for record in self.domain.objects(bucket.name, keys):
            item: dict[str, Any] = {
                "Key": encode_if(url, record.key),
                "LastModified": when(record.modified),
                "ETag": record.etag,
                "Size": record.size,
                "StorageClass": record.storage_class,
            }
            if record.checksum is not None:
                item["ChecksumAlgorithm"] = [record.checksum.algorithm]
                item["ChecksumType"] = record.checksum.type
            if with_owner:
                item["Owner"] = owner(record.owner)
            out.append(item)
        return out

    def _common(self, p: Params, page: Any, url: bool, limit: int, bucket: Bucket) -> Result:
        out: Result = {
            "Name": bucket.name,
            "Prefix": encode_if(url, str(p.get("Prefix") or "")),
            "MaxKeys": limit,
            "IsTruncated": page.truncated,
        }
        if p.get("Delimiter"):
            out["Delimiter"] = encode_if(url, str(p["Delimiter"]))
        if page.prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode_if(url, cp)} for cp in page.prefixes]
        if url:
            out["EncodingType"] = "url"
        return out

    @operation("ListObjectsV2")
    def list_objects_v2(self, call: Call, p: Params) -> Result:
        token = p.get("ContinuationToken")
        after = decode_token(str(token)) if token else str(p.get("StartAfter") or "")
        bucket, page, limit = self._listing(call, p, after)
        url = p.get("EncodingType") == "url"
        out = self._common(p, page, url, limit, bucket)
        out["Contents"] = self._contents(bucket, page.keys, url, bool(p.get("FetchOwner")))
        out["KeyCount"] = len(page.keys) + len(page.prefixes)
        if token:
            out["ContinuationToken"] = token
        if p.get("StartAfter"):
            out["StartAfter"] = encode_if(url, str(p["StartAfter"]))
        if page.truncated and page.last is not None:
            out["NextContinuationToken"] = encode_token(page.last)
        return out

    @operation("ListObjects")
    def list_objects(self, call: Call, p: Params) -> Result:
        marker = str(p.get("Marker") or "")
        bucket, page, limit = self._listing(call, p, marker)
        url = p.get("EncodingType") == "url"
        out = self._common(p, page, url, limit, bucket)
        out["Marker"] = encode_if(url, marker)
        out["Contents"] = self._contents(bucket, page.keys, url, True)
        # S3 returns NextMarker only when a delimiter was given (otherwise use the last key).
        if page.truncated and p.get("Delimiter") and page.last is not None:
            out["NextMarker"] = encode_if(url, page.last)
        return out
