"""S3: buckets, objects and multipart uploads with SigV4, checksums and IAM authorization."""

from __future__ import annotations

from podid.services.s3.domain import S3Domain
from podid.services.s3.provider import S3Provider
from podid.services.s3.storage import BlobStore

__all__ = ["BlobStore", "S3Domain", "S3Provider"]
