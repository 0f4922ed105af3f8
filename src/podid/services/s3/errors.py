"""S3's errors: one constructor per code S3 sends, returning an `AwsError` with the members it adds.

Codes, statuses and messages are S3's ("Error responses" in the Amazon S3 API Reference); the extra
members (`BucketName`, `Key`, `UploadId`, ...) go into the XML body through `AwsError.fields`.
"""

from __future__ import annotations

from podid.errors import AwsError


def no_such_bucket(bucket: str) -> AwsError:
    return AwsError(
        "The specified bucket does not exist", code="NoSuchBucket", status=404, fields={"BucketName": bucket}
    )


def no_such_key(key: str) -> AwsError:
    return AwsError("The specified key does not exist.", code="NoSuchKey", status=404, fields={"Key": key})


def no_such_upload(upload_id: str) -> AwsError:
    return AwsError(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
        code="NoSuchUpload",
        status=404,
        fields={"UploadId": upload_id},
    )


def bucket_already_exists(bucket: str) -> AwsError:
    return AwsError(
        "The requested bucket name is not available. The bucket namespace is shared by all users of the "
        "system. Please select a different name and try again.",
        code="BucketAlreadyExists",
        status=409,
        fields={"BucketName": bucket},
    )


def bucket_already_owned(bucket: str) -> AwsError:
    return AwsError(
        "Your previous request to create the named bucket succeeded and you already own it.",
        code="BucketAlreadyOwnedByYou",
        status=409,
        fields={"BucketName": bucket},
    )


def bucket_not_empty(bucket: str) -> AwsError:
    return AwsError(
        "The bucket you tried to delete is not empty",
        code="BucketNotEmpty",
        status=409,
        fields={"BucketName": bucket},
    )


def invalid_bucket_name(bucket: str) -> AwsError:
    return AwsError(
        "The specified bucket is not valid.",
        code="InvalidBucketName",
        status=400,
        fields={"BucketName": bucket},
    )


def invalid_range(size: int, requested: str) -> AwsError:
    return AwsError(
        "The requested range is not satisfiable",
        code="InvalidRange",
        status=416,
        fields={"RangeRequested": requested, "ActualObjectSize": str(size)},
    )


def precondition_failed(condition: str) -> AwsError:
    return AwsError(
        "At least one of the pre-conditions you specified did not hold",
        code="PreconditionFailed",
        status=412,
        fields={"Condition": condition},
    )


def not_modified() -> AwsError:
    # S3 answers 304 with no body; the wire layer writes headers only for HEAD, so keep it short.
    return AwsError("Not Modified", code="NotModified", status=304)


def malformed_xml() -> AwsError:
    return AwsError(
        "The XML you provided was not well-formed or did not validate against our published schema",
        code="MalformedXML",
        status=400,
    )


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> AwsError:
    fields: dict[str, str] = {}
    if name is not None:
        fields["ArgumentName"] = name
        fields["ArgumentValue"] = value or ""
    return AwsError(message, code="InvalidArgument", status=400, fields=fields)


def invalid_request(message: str) -> AwsError:
    return AwsError(message, code="InvalidRequest", status=400)


def invalid_part(upload_id: str, part: int, etag: str) -> AwsError:
    return AwsError(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or "
        "the specified entity tag may not match the part's entity tag.",
        code="InvalidPart",
        status=400,
        fields={"UploadId": upload_id, "PartNumber": str(part), "ETag": etag},
    )


def invalid_part_order(upload_id: str) -> AwsError:
    return AwsError(
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
        code="InvalidPartOrder",
        status=400,
        fields={"UploadId": upload_id},
    )


def entity_too_small(size: int, part: int, etag: str) -> AwsError:
    return AwsError(
        "Your proposed upload is smaller than the minimum allowed size",
        code="EntityTooSmall",
        status=400,
        fields={
            "ProposedSize": str(size),
            "MinSizeAllowed": "5242880",
            "PartNumber": str(part),
            "ETag": etag,
        },
    )


def entity_too_large(size: int, limit: int) -> AwsError:
    return AwsError(
        "Your proposed upload exceeds the maximum allowed size",
        code="EntityTooLarge",
        status=400,
        fields={"ProposedSize": str(size), "MaxSizeAllowed": str(limit)},
    )


def no_such_bucket_policy(bucket: str) -> AwsError:
    return AwsError(
        "The bucket policy does not exist",
        code="NoSuchBucketPolicy",
        status=404,
        fields={"BucketName": bucket},
    )


def no_such_tag_set(bucket: str) -> AwsError:
    return AwsError(
        "The TagSet does not exist", code="NoSuchTagSet", status=404, fields={"BucketName": bucket}
    )


def malformed_policy(message: str) -> AwsError:
    return AwsError(message, code="MalformedPolicy", status=400)


def invalid_tag(message: str) -> AwsError:
    return AwsError(message, code="InvalidTag", status=400)


def incomplete_body() -> AwsError:
    return AwsError(
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
        code="IncompleteBody",
        status=400,
    )


def missing_content_length() -> AwsError:
    return AwsError(
        "You must provide the Content-Length HTTP header.", code="MissingContentLength", status=411
    )


def illegal_location(constraint: str | None) -> AwsError:
    shown = constraint or "unspecified"
    return AwsError(
        f"The {shown} location constraint is incompatible for the region specific endpoint this request "
        "was sent to.",
        code="IllegalLocationConstraintException",
        status=400,
    )


def invalid_location(constraint: str) -> AwsError:
    return AwsError(
        "The specified location-constraint is not valid",
        code="InvalidLocationConstraint",
        status=400,
        fields={"LocationConstraint": constraint},
    )


def policy_too_large() -> AwsError:
    return AwsError("Policies must be less than 20 KB", code="PolicyTooLarge", status=400)


def wrong_region(signed: str, actual: str, *, presigned: bool) -> AwsError:
    """S3's refusal of a request signed for another region than the bucket's."""
    if presigned:
        message = (
            f"Error parsing the X-Amz-Credential parameter; the region '{signed}' is wrong; "
            f"expecting '{actual}'"
        )
        code = "AuthorizationQueryParametersError"
    else:
        message = (
            f"The authorization header is malformed; the region '{signed}' is wrong; expecting '{actual}'"
        )
        code = "AuthorizationHeaderMalformed"
    return AwsError(
        message, code=code, status=400, fields={"Region": actual}, headers={"x-amz-bucket-region": actual}
    )


def acl_not_supported() -> AwsError:
    """ACLs are disabled (Object Ownership `BucketOwnerEnforced`, every new bucket's default)."""
    return AwsError("The bucket does not allow ACLs", code="AccessControlListNotSupported", status=400)


def bucket_acl_with_ownership() -> AwsError:
    return AwsError(
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        code="InvalidBucketAclWithObjectOwnership",
        status=400,
    )
