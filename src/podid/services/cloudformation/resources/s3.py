"""AWS::S3::Bucket and AWS::S3::BucketPolicy over the S3 domain (`podid.services.s3`).

Bucket: BucketName replaces it; Tags update in place; the other configuration properties
(versioning, encryption, lifecycle, ...) are recorded as given (podid's S3 does not act on them).
Ref is the bucket name; GetAtt gives Arn, DomainName (`<name>.s3.amazonaws.com`),
RegionalDomainName (`<name>.s3.<region>.amazonaws.com`), DualStackDomainName and WebsiteURL as AWS
forms them. Deleting a bucket that still holds objects fails with S3's BucketNotEmpty, as on AWS
(DeletionPolicy: Retain keeps it). BucketPolicy: Bucket replaces it, PolicyDocument updates in
place; Ref is the bucket name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from podid.errors import AwsError
from podid.services.base import AuthzCheck
from podid.services.cloudformation.resources.base import (
    Provisioned,
    ResourceContext,
    ResourceHandler,
    tags_of,
)


class BucketRecord(Protocol):
    name: str
    policy: str | None
    tags: dict[str, str] | None


class S3Api(Protocol):
    """What the handlers use of `podid.services.s3.S3Domain`."""

    def find_bucket(self, name: str) -> Any: ...

    def create_bucket(self, name: str, account: str, region: str, constraint: str | None) -> Any: ...

    def delete_bucket(self, name: str) -> None: ...

    def put_bucket_policy(self, bucket: Any, text: str) -> None: ...

    def save_bucket(self, bucket: Any) -> None: ...


def _arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


class BucketHandler(ResourceHandler):
    type_name = "AWS::S3::Bucket"
    properties = frozenset(
        {
            "AbacStatus",
            "AccelerateConfiguration",
            "AccessControl",
            "AnalyticsConfigurations",
            "BucketEncryption",
            "BucketName",
            "CorsConfiguration",
            "IntelligentTieringConfigurations",
            "InventoryConfigurations",
            "LifecycleConfiguration",
            "LoggingConfiguration",
            "MetadataTableConfiguration",
            "MetricsConfigurations",
            "NotificationConfiguration",
            "ObjectLockConfiguration",
            "ObjectLockEnabled",
            "OwnershipControls",
            "PublicAccessBlockConfiguration",
            "ReplicationConfiguration",
            "Tags",
            "VersioningConfiguration",
            "WebsiteConfiguration",
        }
    )
    replace_on = frozenset({"BucketName", "ObjectLockEnabled"})
    attributes = frozenset({"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"})
    name_property = "BucketName"

    def __init__(self, s3: S3Api) -> None:
        self.s3 = s3

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        name = str(props.get("BucketName") or ctx.generated_name(63, lower=True))
        tags = tags_of(props)
        checks = [AuthzCheck("s3:CreateBucket", _arn(name))]
        if tags:
            checks.append(AuthzCheck("s3:PutBucketTagging", _arn(name)))
        ctx.authorize(*checks)
        constraint = None if ctx.region == "us-east-1" else ctx.region
        bucket = self.s3.create_bucket(name, ctx.account, ctx.region, constraint)
        if tags:
            bucket.tags = dict(tags)
            self.s3.save_bucket(bucket)
        return Provisioned(name, self._attributes(ctx, name))

    @staticmethod
    def _attributes(ctx: ResourceContext, name: str) -> dict[str, Any]:
        return {
            "Arn": _arn(name),
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{ctx.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com",
        }

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        name = current.physical_id
        if tags_of(old) != tags_of(new):
            tags = tags_of(new)
            action = "s3:PutBucketTagging" if tags else "s3:DeleteBucketTagging"
            ctx.authorize(AuthzCheck(action, _arn(name)))
            bucket = self.s3.find_bucket(name)
            if bucket is None:
                raise AwsError(f"Bucket {name} does not exist", code="NotFound", status=404)
            bucket.tags = dict(tags) if tags else None
            self.s3.save_bucket(bucket)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        ctx.authorize(AuthzCheck("s3:DeleteBucket", _arn(current.physical_id)))
        if self.s3.find_bucket(current.physical_id) is None:
            return
        self.s3.delete_bucket(current.physical_id)


class BucketPolicyHandler(ResourceHandler):
    type_name = "AWS::S3::BucketPolicy"
    properties = frozenset({"Bucket", "PolicyDocument"})
    required = ("Bucket", "PolicyDocument")
    replace_on = frozenset({"Bucket"})

    def __init__(self, s3: S3Api) -> None:
        self.s3 = s3

    def _put(self, ctx: ResourceContext, name: str, document: Any) -> None:
        ctx.authorize(AuthzCheck("s3:PutBucketPolicy", _arn(name)))
        bucket = self.s3.find_bucket(name)
        if bucket is None:
            raise AwsError("The specified bucket does not exist", code="NoSuchBucket", status=404)
        text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
        self.s3.put_bucket_policy(bucket, text)

    def create(self, ctx: ResourceContext, props: Mapping[str, Any]) -> Provisioned:
        name = str(props["Bucket"])
        self._put(ctx, name, props["PolicyDocument"])
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Provisioned:
        self._put(ctx, current.physical_id, new["PolicyDocument"])
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Mapping[str, Any]) -> None:
        ctx.authorize(AuthzCheck("s3:DeleteBucketPolicy", _arn(current.physical_id)))
        bucket = self.s3.find_bucket(current.physical_id)
        if bucket is None:
            return
        bucket.policy = None
        self.s3.save_bucket(bucket)
