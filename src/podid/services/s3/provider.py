"""`S3Provider`: S3's wire operations (botocore `s3` 2006-03-01, rest-xml) over `S3Domain`.

The operations live in three mixins by subject (`buckets.py`, `objects.py`, `multipart.py`); every
one authorizes inside its handler through `S3Authorizer` (see `authz.py` for why).
"""

from __future__ import annotations

from podid.services.s3.authz import Authorize, S3Authorizer
from podid.services.s3.buckets import BucketOperations
from podid.services.s3.domain import S3Domain
from podid.services.s3.multipart import MultipartOperations


class S3Provider(MultipartOperations, BucketOperations):
    service_name = "s3"

    def __init__(self, domain: S3Domain, authorize: Authorize) -> None:
        super().__init__(domain, S3Authorizer(authorize))
