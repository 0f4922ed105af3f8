"""The S3 domain: buckets, objects and multipart uploads over the store and the blob store.

Pure of HTTP and of authorization (the provider asks the policy engine first); every method takes
plain values and returns records or raises S3's errors. Bucket names are global across accounts,
as in AWS. Each bucket's keys are also kept in a sorted in-memory index (rebuilt from the store at
start) so that listings do not sort the whole table.

Bucket creation follows S3's region rules: the request's region is where the bucket lives; outside
us-east-1 the `LocationConstraint` must name that region (`IllegalLocationConstraintException`),
in us-east-1 it must be absent (`InvalidLocationConstraint` for "us-east-1"); re-creating one's own
bucket is `BucketAlreadyOwnedByYou` 409 except in us-east-1, where S3 answers 200 for legacy
compatibility; another account's bucket is `BucketAlreadyExists` 409.
"""

from __future__ import annotations

import json
import os
import uuid
from bisect import bisect_left, insort
from collections.abc import Iterator
from datetime import datetime
from fnmatch import fnmatchcase

from podid.clock import Clock
from podid.policy import MalformedPolicyDocument, PolicySizeExceeded, parse_policy
from podid.services.s3 import errors
from podid.services.s3.model import BUCKETS, OBJECTS, PARTS, UPLOADS, Bucket, ObjectRecord, timestamp
from podid.services.s3.names import check_bucket_name
from podid.services.s3.storage import BlobStore, Staged
from podid.store import Store
from podid.wire.decode import MAX_JSON_DEPTH, json_depth
from podid.wire.sigv4 import valid_regions

MAX_BUCKET_TAGS = 50
MAX_OBJECT_TAGS = 10
MAX_POLICY_BYTES = 20 * 1024


class S3Domain:
    """Buckets and objects of every account, with their bytes under `blobs`."""

    def __init__(self, store: Store, blobs: BlobStore, clock: Clock) -> None:
        self.store = store
        self.blobs = blobs
        self.clock = clock
        self._index: dict[str, list[str]] = {}
        for name, _ in store.scan(BUCKETS):
            self._index[name] = []
        for full, _ in store.scan(OBJECTS):
            bucket, _, key = full.partition("/")
            self._index.setdefault(bucket, []).append(key)  # scan is in key order already

    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------------ buckets

    def find_bucket(self, name: str) -> Bucket | None:
        data = self.store.get(BUCKETS, name)
        return Bucket.from_json(data) if data is not None else None

    def bucket(self, name: str) -> Bucket:
        found = self.find_bucket(name)
        if found is None:
            raise errors.no_such_bucket(name)
        return found

    def buckets_of(self, account: str) -> list[Bucket]:
        return [Bucket.from_json(d) for _, d in self.store.scan(BUCKETS) if d["account"] == account]

    def create_bucket(self, name: str, account: str, region: str, constraint: str | None) -> Bucket:
        check_bucket_name(name)
        if region == "us-east-1":
            if constraint == "us-east-1":
                raise errors.invalid_location(constraint)
            if constraint and constraint != "EU":
                raise errors.illegal_location(constraint)
        elif constraint != region:
            if constraint and constraint not in valid_regions() and constraint != "EU":
                raise errors.invalid_location(constraint)
            raise errors.illegal_location(constraint)
        existing = self.find_bucket(name)
        if existing is not None:
            if existing.account != account:
                raise errors.bucket_already_exists(name)
            if region == "us-east-1" and existing.region == "us-east-1":
                return existing
            raise errors.bucket_already_owned(name)
        bucket = Bucket(name=name, account=account, region=region, created=timestamp(self.now()))
        self.store.put(BUCKETS, name, bucket.to_json())
        self._index[name] = []
        return bucket

    def delete_bucket(self, name: str) -> None:
        self.bucket(name)
        if self._index.get(name):
            raise errors.bucket_not_empty(name)
        with self.store.transaction():
            for key, data in list(self.store.scan(UPLOADS, name + "/")):
                for pkey, part in list(self.store.scan(PARTS, data["upload_id"] + "/")):
                    self.blobs.delete(part["blob"])
                    self.store.delete(PARTS, pkey)
                self.store.delete(UPLOADS, key)
            self.store.delete(BUCKETS, name)
        self._index.pop(name, None)

    def save_bucket(self, bucket: Bucket) -> None:
        self.store.put(BUCKETS, bucket.name, bucket.to_json())

    def put_bucket_policy(self, bucket: Bucket, text: str) -> None:
        check_bucket_policy(bucket.name, text)
        bucket.policy = text
        self.save_bucket(bucket)

    # ------------------------------------------------------------------ objects

    def keys(self, bucket: str) -> list[str]:
        return self._index.get(bucket, [])

    def find_object(self, bucket: str, key: str) -> ObjectRecord | None:
        data = self.store.get(OBJECTS, f"{bucket}/{key}")
        return ObjectRecord.from_json(data) if data is not None else None

    def get_object(self, bucket: str, key: str) -> ObjectRecord:
        found = self.find_object(bucket, key)
        if found is None:
            raise errors.no_such_key(key)
        return found

    def objects(self, bucket: str, keys: list[str]) -> Iterator[ObjectRecord]:
        for key in keys:
            found = self.find_object(bucket, key)
            if found is not None:
                yield found

    def store_object(self, bucket: str, record: ObjectRecord, staged: Staged | None = None) -> ObjectRecord:
        """Make `staged` (already checked) the bytes of `record` and replace any previous version."""
        if staged is not None:
            record.blob = self.blobs.commit(staged)
        old = self.find_object(bucket, record.key)
        self.store.put(OBJECTS, f"{bucket}/{record.key}", record.to_json())
        if old is None:
            insort(self._index.setdefault(bucket, []), record.key)
        elif old.blob != record.blob:
            self.blobs.delete(old.blob)
        return record

    def save_object_meta(self, bucket: str, record: ObjectRecord) -> None:
        self.store.put(OBJECTS, f"{bucket}/{record.key}", record.to_json())

    def delete_object(self, bucket: str, key: str) -> bool:
        old = self.find_object(bucket, key)
        if old is None:
            return False
        self.store.delete(OBJECTS, f"{bucket}/{key}")
        keys = self._index.get(bucket, [])
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            del keys[i]
        self.blobs.delete(old.blob)
        return True

    def link_blob(self, blob: str) -> str:
        """A new blob with the same bytes (CopyObject): a hard link, as blobs are immutable."""
        new = uuid.uuid4().hex
        target = self.blobs.path_of(new)
        target.parent.mkdir(exist_ok=True)
        os.link(self.blobs.path_of(blob), target)
        return new


def check_bucket_policy(bucket: str, text: str) -> None:
    """S3's checks of a bucket policy: valid policy language, a Principal, resources in this bucket."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise errors.policy_too_large()
    if not text.lstrip().startswith("{") or json_depth(text) > MAX_JSON_DEPTH:
        raise errors.malformed_policy("Policies must be valid JSON and the first byte must be '{'")
    try:
        parse_policy(text, "resource", enforce_size=False)
    except PolicySizeExceeded:
        raise errors.policy_too_large() from None
    except MalformedPolicyDocument as err:
        raise errors.malformed_policy(_s3_policy_message(err.message)) from None
    document = json.loads(text)
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    arn = f"arn:aws:s3:::{bucket}"
    for statement in statements or []:
        resources = statement.get("Resource", statement.get("NotResource", []))
        if isinstance(resources, str):
            resources = [resources]
        for resource in resources:
            if not _in_bucket(str(resource), arn):
                raise errors.malformed_policy("Policy has invalid resource")


def _in_bucket(resource: str, arn: str) -> bool:
    if resource == arn or resource.startswith(arn + "/"):
        return True
    return fnmatchcase(arn, resource) or fnmatchcase(arn + "/x", resource)


def _s3_policy_message(message: str) -> str:
    """S3 words policy-language faults its own way; the common ones, else IAM's text."""
    if "Syntax errors" in message:
        return "Policies must be valid JSON and the first byte must be '{'"
    if "Principal" in message:
        return "Missing required field Principal"
    if "must contain actions" in message or "must contain resources" in message:
        return "Missing required field " + ("Action" if "actions" in message else "Resource")
    return message
