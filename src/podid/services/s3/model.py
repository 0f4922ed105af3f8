"""S3's stored records (buckets, objects, multipart uploads, parts) and their store tables.

Records are plain JSON documents in the shared `Store`:

| table        | key                     | record                                   |
| ------------ | ----------------------- | ---------------------------------------- |
| s3.buckets   | `<bucket>`              | `Bucket` (names are global, as in AWS)   |
| s3.objects   | `<bucket>/<key>`        | `ObjectRecord` (bytes in the blob store) |
| s3.uploads   | `<bucket>/<upload id>`  | `Upload` (an in-progress multipart)      |
| s3.parts     | `<upload id>/<00001>`   | `Part`                                   |
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

BUCKETS = "s3.buckets"
OBJECTS = "s3.objects"
UPLOADS = "s3.uploads"
PARTS = "s3.parts"

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.000Z"


def canonical_user_id(account: str) -> str:
    """The 64-hex canonical user ID S3 shows as an account's `Owner.ID` (derived, stable)."""
    return hashlib.sha256(f"podid-canonical-user:{account}".encode()).hexdigest()


def timestamp(now: datetime) -> str:
    """S3 times have second precision (`Last-Modified` is an HTTP date)."""
    return now.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


@dataclass
class Bucket:
    name: str
    account: str
    region: str
    created: str
    policy: str | None = None
    tags: dict[str, str] | None = None  # None: no tag set (NoSuchTagSet), {} never stored

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bucket:
        return cls(**data)


@dataclass
class Checksum:
    algorithm: str  # CRC32, CRC32C, CRC64NVME, SHA1, SHA256
    value: str  # base64, with "-N" for a composite multipart checksum
    type: str = "FULL_OBJECT"  # or COMPOSITE


@dataclass
class ObjectRecord:
    key: str
    blob: str
    size: int
    etag: str  # with its double quotes, as S3 sends it
    modified: str
    owner: str  # account id
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)  # CacheControl, ContentDisposition, ...
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksum: Checksum | None = None
    part_sizes: list[int] | None = None  # multipart objects: size of each part (GetObject PartNumber)
    storage_class: str = "STANDARD"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectRecord:
        data = dict(data)
        checksum = data.pop("checksum", None)
        return cls(**data, checksum=Checksum(**checksum) if checksum else None)


@dataclass
class Upload:
    bucket: str
    key: str
    upload_id: str
    initiated: str
    owner: str
    initiator_arn: str
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None  # COMPOSITE or FULL_OBJECT when an algorithm is chosen
    storage_class: str = "STANDARD"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upload:
        return cls(**data)


@dataclass
class Part:
    number: int
    blob: str
    size: int
    etag: str
    md5_hex: str
    modified: str
    checksum: str | None = None  # base64 value in the upload's algorithm

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(**data)
