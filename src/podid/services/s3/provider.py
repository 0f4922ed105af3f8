"""`S3Provider`: S3's wire operations (botocore `s3` 2006-03-01, rest-xml) over `S3Domain`.

The operations live in mixins by subject (`buckets.py`, `objects.py`, `multipart.py`, `settings.py`); every
one authorizes inside its handler through `S3Authorizer` (see `authz.py` for why).

S3 does not answer model-validation failures the way Coral services do; `translate_error` maps the
ones clients meet to S3's codes: a body structure that is missing or not in the schema ->
`MalformedXML`, an unknown location constraint -> `InvalidLocationConstraint`, an unknown storage
class -> `InvalidStorageClass`, an unknown checksum algorithm -> `InvalidRequest`.
"""

from __future__ import annotations

from podid.errors import AwsError
from podid.services.s3 import errors
from podid.services.s3.authz import Authorize, S3Authorizer
from podid.services.s3.buckets import BucketOperations
from podid.services.s3.domain import S3Domain
from podid.services.s3.multipart import MultipartOperations
from podid.services.s3.settings import SettingsOperations
from podid.wire.validate import ModelValidationError

_BODY_MEMBERS = frozenset({"Delete", "Tagging", "MultipartUpload", "CreateBucketConfiguration"})


class S3Provider(MultipartOperations, BucketOperations, SettingsOperations):
    service_name = "s3"

    def __init__(self, domain: S3Domain, authorize: Authorize) -> None:
        super().__init__(domain, S3Authorizer(authorize))

    def translate_error(self, err: AwsError) -> AwsError:
        if not isinstance(err, ModelValidationError):
            return err
        for failure in err.failures:
            top = str(failure.members[0]) if failure.members else ""
            if top == "CreateBucketConfiguration" and "LocationConstraint" in failure.members:
                return AwsError(
                    "The specified location-constraint is not valid",
                    code="InvalidLocationConstraint",
                    status=400,
                )
            if top == "StorageClass":
                return AwsError(
                    "The storage class you specified is not valid", code="InvalidStorageClass", status=400
                )
            if top == "ChecksumAlgorithm":
                return errors.invalid_request("Checksum algorithm provided is unsupported.")
            if top in _BODY_MEMBERS:
                return errors.malformed_xml()
        return err
