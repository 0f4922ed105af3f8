"""Bucket and object settings podid does not let you change, read as S3 reports its defaults.

Tools (Terraform, SDK helpers, `aws s3api`) read these before they act. podid has no versioning,
ACLs or encryption keys, so each answers with what a new S3 bucket has had since April 2023:
versioning never enabled (an empty `VersioningConfiguration`), SSE-S3 (`AES256`) default
encryption, `BucketOwnerEnforced` object ownership (ACLs disabled, the owner has FULL_CONTROL), and
every Block Public Access setting on. `ListObjectVersions` on an unversioned bucket lists each object
once with version id `null`. Each read is authorized with its own action.
"""

from __future__ import annotations

from typing import Any

from podid.services.base import Call, Params, Result, operation
from podid.services.s3.common import S3Base, encode_if, owner, when
from podid.services.s3.listing import list_page


class SettingsOperations(S3Base):
    @operation("GetBucketVersioning")
    def get_bucket_versioning(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketVersioning", bucket)
        return {}

    @operation("GetBucketEncryption")
    def get_bucket_encryption(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetEncryptionConfiguration", bucket)
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
        return {"ServerSideEncryptionConfiguration": {"Rules": [rule]}}

    @operation("GetBucketOwnershipControls")
    def get_bucket_ownership_controls(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketOwnershipControls", bucket)
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}

    @operation("GetPublicAccessBlock")
    def get_public_access_block(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketPublicAccessBlock", bucket)
        flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        return {"PublicAccessBlockConfiguration": dict.fromkeys(flags, True)}

    def _acl(self, account: str) -> Result:
        grantee = {"Type": "CanonicalUser", **owner(account)}
        return {"Owner": owner(account), "Grants": [{"Grantee": grantee, "Permission": "FULL_CONTROL"}]}

    @operation("GetBucketAcl")
    def get_bucket_acl(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:GetBucketAcl", bucket)
        return self._acl(bucket.account)

    @operation("GetObjectAcl")
    def get_object_acl(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:GetObjectAcl", bucket, key)
        record = self.domain.get_object(bucket.name, key)
        return self._acl(record.owner)

    @operation("ListObjectVersions")
    def list_object_versions(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:ListBucketVersions", bucket)
        url = p.get("EncodingType") == "url"
        marker = str(p.get("KeyMarker") or "")
        limit = min(int(p["MaxKeys"]) if p.get("MaxKeys") is not None else 1000, 1000)
        prefix, delimiter = str(p.get("Prefix") or ""), str(p.get("Delimiter") or "")
        page = list_page(
            self.domain.keys(bucket.name), prefix=prefix, delimiter=delimiter, after=marker, max_keys=limit
        )
        versions: list[dict[str, Any]] = []
        for record in self.domain.objects(bucket.name, page.keys):
            versions.append(
                {
                    "Key": encode_if(url, record.key),
                    "VersionId": "null",
                    "IsLatest": True,
                    "LastModified": when(record.modified),
                    "ETag": record.etag,
                    "Size": record.size,
                    "StorageClass": record.storage_class,
                    "Owner": owner(record.owner),
                }
            )
        out: Result = {
            "Name": bucket.name,
            "Prefix": encode_if(url, prefix),
            "KeyMarker": encode_if(url, marker),
            "MaxKeys": limit,
            "IsTruncated": page.truncated,
            "Versions": versions,
        }
        if delimiter:
            out["Delimiter"] = encode_if(url, delimiter)
        if page.prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode_if(url, cp)} for cp in page.prefixes]
        if page.truncated and page.last is not None:
            out["NextKeyMarker"] = encode_if(url, page.last)
            out["NextVersionIdMarker"] = "null"
        if url:
            out["EncodingType"] = "url"
        return out
