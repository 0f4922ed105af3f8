"""S3 multipart uploads: create, upload part (and part copy), complete, abort, list parts/uploads.

Completion follows S3: parts listed in ascending order (`InvalidPartOrder`), each uploaded with the
given ETag (`InvalidPart`), every part but the last at least 5 MiB (`EntityTooSmall`). The object's
ETag is the MD5 of the parts' binary MD5s followed by `-<count>`. Checksums: an upload created with
an algorithm keeps each part's checksum; the object's is COMPOSITE (the algorithm over the parts'
digests, `-<count>`) or, with `ChecksumType=FULL_OBJECT` (CRC algorithms only), the checksum of the
whole object. Without an algorithm the object gets S3's default full-object CRC64NVME.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import quote

from podid.errors import AwsError
from podid.services.base import Call, Params, Result, operation
from podid.services.s3 import errors
from podid.services.s3.common import (
    CHECKSUM_MEMBERS,
    check_object_acl,
    checksum_fields,
    content_headers,
    encode_if,
    header_tags,
    owner,
    user_metadata,
    when,
)
from podid.services.s3.conditions import parse_range
from podid.services.s3.incoming import DEFAULT_ALGORITHM, receive_body
from podid.services.s3.model import PARTS, UPLOADS, Bucket, Checksum, ObjectRecord, Part, Upload, timestamp
from podid.services.s3.names import check_key
from podid.services.s3.objects import ObjectOperations
from podid.wire.checksums import new_checksum, normalize_algorithm

MIN_PART = 5 * 1024 * 1024
MAX_PART = 5 * 1024**3
MAX_PARTS = 10000


class MultipartOperations(ObjectOperations):
    def upload(self, bucket: Bucket, key: str, upload_id: str) -> Upload:
        data = self.domain.store.get(UPLOADS, f"{bucket.name}/{upload_id}")
        if data is None or data["key"] != key:
            raise errors.no_such_upload(upload_id)
        return Upload.from_json(data)

    def parts(self, upload_id: str) -> list[Part]:
        return [Part.from_json(d) for _, d in self.domain.store.scan(PARTS, upload_id + "/")]

    @operation("CreateMultipartUpload")
    def create_multipart_upload(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        check_key(key)
        tags = header_tags(p.get("Tagging"))
        self.az.require(call, *self.write_checks(call, bucket, key, p, tags))
        check_object_acl(p)
        algorithm = normalize_algorithm(str(p.get("ChecksumAlgorithm") or ""))
        if p.get("ChecksumAlgorithm") and algorithm is None:
            raise errors.invalid_request("Checksum algorithm provided is unsupported.")
        ctype = p.get("ChecksumType")
        if ctype is not None and algorithm is None:
            raise errors.invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            )
        if ctype == "FULL_OBJECT" and algorithm in ("SHA1", "SHA256"):
            raise errors.invalid_request(
                f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} checksum "
                "algorithm."
            )
        if algorithm is not None and ctype is None:
            ctype = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
        upload = Upload(
            bucket=bucket.name,
            key=key,
            upload_id=base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("="),
            initiated=timestamp(call.now),
            owner=call.account,
            initiator_arn=call.principal.arn,
            content_type=str(p.get("ContentType") or "binary/octet-stream"),
            headers=content_headers(p),
            metadata=user_metadata(p),
            tags=tags,
            checksum_algorithm=algorithm,
            checksum_type=ctype,
            storage_class=str(p.get("StorageClass") or "STANDARD"),
        )
        self.domain.store.put(UPLOADS, f"{bucket.name}/{upload.upload_id}", upload.to_json())
        out: Result = {
            "Bucket": bucket.name,
            "Key": key,
            "UploadId": upload.upload_id,
            "ServerSideEncryption": "AES256",
        }
        if algorithm is not None:
            out["ChecksumAlgorithm"] = algorithm
            out["ChecksumType"] = ctype
        return out

    def _part_number(self, p: Params) -> int:
        number = int(p["PartNumber"])
        if not 1 <= number <= MAX_PARTS:
            raise errors.invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive", "partNumber", str(number)
            )
        return number

    def _save_part(self, upload: Upload, part: Part) -> None:
        key = f"{upload.upload_id}/{part.number:05d}"
        old = self.domain.store.get(PARTS, key)
        self.domain.store.put(PARTS, key, part.to_json())
        if old is not None:
            self.domain.blobs.delete(old["blob"])

    @operation("UploadPart")
    async def upload_part(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:PutObject", bucket, key)
        number = self._part_number(p)
        upload = self.upload(bucket, key, str(p["UploadId"]))
        algorithm = upload.checksum_algorithm or DEFAULT_ALGORITHM
        received = await receive_body(call, p, self.domain.blobs, algorithm=algorithm, limit=MAX_PART)
        staged = received.staged
        try:
            upload = self.upload(bucket, key, upload.upload_id)  # not aborted meanwhile
        except AwsError:
            self.domain.blobs.discard(staged)
            raise
        part = Part(
            number=number,
            blob=self.domain.blobs.commit(staged),
            size=staged.size,
            etag=f'"{staged.md5_hex}"',
            md5_hex=staged.md5_hex,
            modified=timestamp(call.now),
            checksum=received.checksum,
        )
        self._save_part(upload, part)
        out: Result = {"ETag": part.etag, "ServerSideEncryption": "AES256"}
        if upload.checksum_algorithm is not None:
            out[CHECKSUM_MEMBERS[upload.checksum_algorithm]] = part.checksum
        return out

    @operation("UploadPartCopy")
    async def upload_part_copy(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:PutObject", bucket, key)
        _, source = self.copy_source(call, str(p["CopySource"]))
        number = self._part_number(p)
        upload = self.upload(bucket, key, str(p["UploadId"]))
        text = p.get("CopySourceRange")
        span = parse_range(text, source.size) if text else None
        if text and span is None:
            raise errors.invalid_argument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
                "last are the zero-based offsets of the first and last bytes to copy",
                "x-amz-copy-source-range",
                str(text),
            )
        start, length = (span[0], span[1] - span[0] + 1) if span else (0, source.size)
        algorithm = upload.checksum_algorithm or DEFAULT_ALGORITHM
        staged = await self.domain.blobs.write(
            self.domain.blobs.read(source.blob, start, length), algorithms=[algorithm]
        )
        part = Part(
            number=number,
            blob=self.domain.blobs.commit(staged),
            size=staged.size,
            etag=f'"{staged.md5_hex}"',
            md5_hex=staged.md5_hex,
            modified=timestamp(call.now),
            checksum=staged.checksums[algorithm],
        )
        self._save_part(upload, part)
        result: dict[str, Any] = {"ETag": part.etag, "LastModified": when(part.modified)}
        if upload.checksum_algorithm is not None:
            result[CHECKSUM_MEMBERS[upload.checksum_algorithm]] = part.checksum
        return {"CopyPartResult": result}

    @operation("CompleteMultipartUpload")
    async def complete_multipart_upload(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:PutObject", bucket, key)
        p = await self.body_params(call, p)
        upload = self.upload(bucket, key, str(p["UploadId"]))
        listed = (p.get("MultipartUpload") or {}).get("Parts") or []
        if not listed:
            raise errors.malformed_xml()
        stored = {part.number: part for part in self.parts(upload.upload_id)}
        chosen: list[Part] = []
        previous = 0
        for item in listed:
            number = int(item.get("PartNumber") or 0)
            etag = str(item.get("ETag") or "")
            if number <= previous:
                raise errors.invalid_part_order(upload.upload_id)
            previous = number
            part = stored.get(number)
            if part is None or etag.strip('"') != part.md5_hex:
                raise errors.invalid_part(upload.upload_id, number, etag)
            if upload.checksum_algorithm is not None:
                claimed = item.get(CHECKSUM_MEMBERS[upload.checksum_algorithm])
                if claimed is not None and claimed != part.checksum:
                    raise errors.invalid_part(upload.upload_id, number, etag)
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART:
                raise errors.entity_too_small(part.size, part.number, part.etag)
        checksum = self._object_checksum(upload, chosen)
        whole = new_checksum(checksum.algorithm) if checksum.type == "FULL_OBJECT" else None
        staged = await self.domain.blobs.concat([part.blob for part in chosen], [whole] if whole else [])
        if whole is not None:
            checksum.value = whole.b64digest()
        try:
            self.upload(bucket, key, upload.upload_id)  # not completed or aborted meanwhile
            self._check_final(upload, p, checksum)
        except AwsError:
            self.domain.blobs.discard(staged)
            raise
        digest = hashlib.md5(b"".join(bytes.fromhex(part.md5_hex) for part in chosen), usedforsecurity=False)
        record = ObjectRecord(
            key=key,
            blob="",
            size=staged.size,
            etag=f'"{digest.hexdigest()}-{len(chosen)}"',
            modified=timestamp(call.now),
            owner=upload.owner,
            content_type=upload.content_type,
            headers=dict(upload.headers),
            metadata=dict(upload.metadata),
            tags=dict(upload.tags),
            checksum=checksum,
            part_sizes=[part.size for part in chosen],
            storage_class=upload.storage_class,
        )
        with self.domain.store.transaction():
            self.domain.store_object(bucket.name, record, staged)
            self._drop(upload)
        out: Result = {
            "Location": _location(call, bucket.name, key),
            "Bucket": bucket.name,
            "Key": key,
            "ETag": record.etag,
            "ServerSideEncryption": "AES256",
        }
        if upload.checksum_algorithm is not None:
            out.update(checksum_fields(checksum))
        return out

    @staticmethod
    def _object_checksum(upload: Upload, parts: list[Part]) -> Checksum:
        algorithm = upload.checksum_algorithm or DEFAULT_ALGORITHM
        if upload.checksum_type == "COMPOSITE":
            combined = new_checksum(algorithm)
            for part in parts:
                combined.update(base64.b64decode(part.checksum or ""))
            return Checksum(algorithm, f"{combined.b64digest()}-{len(parts)}", "COMPOSITE")
        return Checksum(algorithm, "", "FULL_OBJECT")

    @staticmethod
    def _check_final(upload: Upload, p: Params, checksum: Checksum) -> None:
        if upload.checksum_algorithm is None:
            return
        claimed = p.get(CHECKSUM_MEMBERS[upload.checksum_algorithm])
        if (
            claimed is not None
            and claimed != checksum.value
            and claimed.split("-")[0] != checksum.value.split("-")[0]
        ):
            raise errors.invalid_request(
                f"The upload was created using the {upload.checksum_algorithm.lower()} checksum algorithm "
                "but the provided checksum does not match."
            )

    def _drop(self, upload: Upload) -> None:
        for key, data in list(self.domain.store.scan(PARTS, upload.upload_id + "/")):
            self.domain.store.delete(PARTS, key)
            self.domain.blobs.delete(data["blob"])
        self.domain.store.delete(UPLOADS, f"{upload.bucket}/{upload.upload_id}")

    @operation("AbortMultipartUpload")
    def abort_multipart_upload(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:AbortMultipartUpload", bucket, key)
        upload = self.upload(bucket, key, str(p["UploadId"]))
        with self.domain.store.transaction():
            self._drop(upload)
        return {}

    @operation("ListParts")
    def list_parts(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        key = str(p["Key"])
        self.az.object(call, "s3:ListMultipartUploadParts", bucket, key)
        upload = self.upload(bucket, key, str(p["UploadId"]))
        marker = int(p.get("PartNumberMarker") or 0)
        limit = min(_int(p.get("MaxParts"), 1000), 1000)
        parts = [part for part in self.parts(upload.upload_id) if part.number > marker]
        page, truncated = parts[:limit], len(parts) > limit
        items: list[dict[str, Any]] = []
        for part in page:
            item: dict[str, Any] = {
                "PartNumber": part.number,
                "LastModified": when(part.modified),
                "ETag": part.etag,
                "Size": part.size,
            }
            if upload.checksum_algorithm is not None:
                item[CHECKSUM_MEMBERS[upload.checksum_algorithm]] = part.checksum
            items.append(item)
        out: Result = {
            "Bucket": bucket.name,
            "Key": key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "MaxParts": limit,
            "IsTruncated": truncated,
            "Parts": items,
            "Initiator": {"ID": upload.initiator_arn, "DisplayName": upload.initiator_arn.rsplit("/", 1)[-1]},
            "Owner": owner(upload.owner),
            "StorageClass": upload.storage_class,
        }
        if page:
            out["NextPartNumberMarker"] = page[-1].number
        if upload.checksum_algorithm is not None:
            out["ChecksumAlgorithm"] = upload.checksum_algorithm
            out["ChecksumType"] = upload.checksum_type
        return out

    @operation("ListMultipartUploads")
    def list_multipart_uploads(self, call: Call, p: Params) -> Result:
        bucket = self.existing_bucket(call, p)
        self.az.bucket(call, "s3:ListBucketMultipartUploads", bucket)
        prefix = str(p.get("Prefix") or "")
        delimiter = str(p.get("Delimiter") or "")
        key_marker = str(p.get("KeyMarker") or "")
        id_marker = str(p.get("UploadIdMarker") or "")
        limit = min(_int(p.get("MaxUploads"), 1000), 1000)
        url = p.get("EncodingType") == "url"
        uploads = sorted(
            (Upload.from_json(d) for _, d in self.domain.store.scan(UPLOADS, bucket.name + "/")),
            key=lambda u: (u.key, u.initiated, u.upload_id),
        )
        items: list[dict[str, Any]] = []
        prefixes: list[str] = []
        truncated = False
        last: Upload | None = None
        for upload in uploads:
            if not upload.key.startswith(prefix):
                continue
            if key_marker and (
                upload.key < key_marker
                or (upload.key == key_marker and (not id_marker or upload.upload_id <= id_marker))
            ):
                continue
            rest = upload.key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                if common not in prefixes:
                    prefixes.append(common)
                continue
            if len(items) == limit:
                truncated = True
                break
            items.append(
                {
                    "UploadId": upload.upload_id,
                    "Key": encode_if(url, upload.key),
                    "Initiated": when(upload.initiated),
                    "StorageClass": upload.storage_class,
                    "Owner": owner(upload.owner),
                    "Initiator": {"ID": upload.initiator_arn},
                    **({"ChecksumAlgorithm": upload.checksum_algorithm} if upload.checksum_algorithm else {}),
                }
            )
            last = upload
        out: Result = {
            "Bucket": bucket.name,
            "KeyMarker": key_marker,
            "UploadIdMarker": id_marker,
            "Prefix": encode_if(url, prefix),
            "MaxUploads": limit,
            "IsTruncated": truncated,
            "Uploads": items,
        }
        if delimiter:
            out["Delimiter"] = delimiter
        if prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode_if(url, cp)} for cp in prefixes]
        if truncated and last is not None:
            out["NextKeyMarker"] = encode_if(url, last.key)
            out["NextUploadIdMarker"] = last.upload_id
        if url:
            out["EncodingType"] = "url"
        return out


def _location(call: Call, bucket: str, key: str) -> str:
    """The object's URL in the addressing style of the request, as S3 writes `<Location>`."""
    scheme = "https" if call.secure_transport else "http"
    host = call.host.rsplit(":", 1)[0] if not call.host.endswith("]") else call.host
    if host.startswith(bucket + "."):
        return f"{scheme}://{call.host}/{quote(key, safe='/')}"
    return f"{scheme}://{call.host}/{bucket}/{quote(key, safe='/')}"


def _int(value: object, default: int) -> int:
    return int(value) if isinstance(value, int | str) else default
