"""Authorizing S3 requests: the action map, resource ARNs, condition keys and bucket policies.

Every S3 operation is authorized inside its handler (it needs the bucket's policy, owner and tags,
and for some checks the object's tags, which only the domain knows). Each check carries:

- the action AWS uses for the operation ("Amazon S3 actions" / "Actions, resources and condition
  keys for Amazon S3"): ListBuckets -> s3:ListAllMyBuckets on `*`, HeadBucket and ListObjects(V2)
  -> s3:ListBucket, HeadObject -> s3:GetObject, UploadPart/CompleteMultipartUpload -> s3:PutObject,
  ListParts -> s3:ListMultipartUploadParts, DeleteBucketTagging -> s3:PutBucketTagging, ...;
- the resource `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`;
- the bucket policy as the resource policy and the bucket owner's account as the resource account
  (so another account needs both its identity policy and the bucket policy, and an explicit Deny in
  the bucket policy beats any Allow);
- S3's condition keys: `s3:authType`, `s3:signatureversion`, `s3:x-amz-content-sha256`,
  `s3:ResourceAccount`, `aws:ResourceTag/<k>` (the bucket's tags, for bucket and object actions:
  our reading of S3's ABAC for general purpose buckets), plus what each operation adds
  (`s3:prefix`, `s3:delimiter`, `s3:max-keys`, `s3:ExistingObjectTag/<k>`,
  `s3:RequestObjectTag/<k>`, `s3:RequestObjectTagKeys`, `s3:x-amz-acl`, `s3:x-amz-copy-source`,
  `s3:x-amz-metadata-directive`, `s3:x-amz-storage-class`).

The bucket owner's root user may always get, put and delete the bucket policy (S3's lock-out
escape hatch), even when the policy denies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from podid.errors import AwsError
from podid.services.base import AuthzCheck, Call, ContextValue
from podid.services.s3.model import Bucket

Authorize = Callable[[Call, Sequence[AuthzCheck]], None]

POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def tag_context(prefix: str, tags: Mapping[str, str]) -> dict[str, ContextValue]:
    return {f"{prefix}/{k}": v for k, v in tags.items()}


class S3Authorizer:
    """Builds the checks of S3 requests and hands them to the gateway's authorizer."""

    def __init__(self, authorize: Authorize) -> None:
        self._authorize = authorize

    def base_context(self, call: Call, bucket: Bucket | None) -> dict[str, ContextValue]:
        ctx: dict[str, ContextValue] = {}
        v = call.signature
        if v is not None:
            ctx["s3:authType"] = "REST-QUERY-STRING" if v.presigned else "REST-HEADER"
            ctx["s3:signatureversion"] = "AWS4-HMAC-SHA256" if v.signature_version == 4 else "AWS"
            ctx["s3:x-amz-content-sha256"] = v.payload_hash
            if v.presigned and v.expires_at is not None:
                ctx["s3:signatureAge"] = str(int((call.now - v.amz_date).total_seconds() * 1000))
        if bucket is not None:
            ctx["s3:ResourceAccount"] = bucket.account
            ctx.update(tag_context("aws:ResourceTag", bucket.tags or {}))
        return ctx

    def check(
        self,
        call: Call,
        action: str,
        bucket: Bucket | None,
        key: str | None = None,
        context: Mapping[str, ContextValue] | None = None,
    ) -> AuthzCheck:
        if bucket is None:
            resource = "*"
        elif key is None:
            resource = bucket.arn
        else:
            resource = object_arn(bucket.name, key)
        return AuthzCheck(
            action=action,
            resource=resource,
            context={**self.base_context(call, bucket), **(context or {})},
            resource_policy=bucket.policy if bucket is not None else None,
            resource_account=bucket.account if bucket is not None else None,
        )

    def require(self, call: Call, *checks: AuthzCheck) -> None:
        """Raise AccessDenied (with the engine's explanation) unless every check is allowed."""
        needed = [c for c in checks if not self._owner_escape(call, c)]
        if needed:
            self._authorize(call, needed)

    def allowed(self, call: Call, check: AuthzCheck) -> bool:
        try:
            self.require(call, check)
        except AwsError as err:
            if err.status == 403:
                return False
            raise
        return True

    def bucket(
        self, call: Call, action: str, bucket: Bucket, context: Mapping[str, ContextValue] | None = None
    ) -> None:
        self.require(call, self.check(call, action, bucket, None, context))

    def object(
        self,
        call: Call,
        action: str,
        bucket: Bucket,
        key: str,
        context: Mapping[str, ContextValue] | None = None,
    ) -> None:
        self.require(call, self.check(call, action, bucket, key, context))

    @staticmethod
    def _owner_escape(call: Call, check: AuthzCheck) -> bool:
        p = call.principal
        return check.action in POLICY_ACTIONS and p.kind == "root" and p.account == check.resource_account
