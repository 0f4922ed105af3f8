"""Multipart uploads through boto3 and s3transfer (concurrent parts), and the completion rules."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from tests.services.s3.s3_support import make_bucket
from tests.support.errors import error_code

MIB = 1024 * 1024


@pytest.fixture
def bucket(s3: Any) -> str:
    return make_bucket(s3)


def test_upload_file_and_download_file_multipart_concurrent(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(13 * MIB)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    s3.upload_file(str(src), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    md5s = b"".join(hashlib.md5(data[i : i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB))
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "big.bin", str(dst), Config=config)  # ranged GETs in parallel
    assert dst.read_bytes() == data
    part2 = s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=2)
    assert part2["PartsCount"] == 3
    assert part2["Body"].read() == data[5 * MIB : 10 * MIB]


def test_composite_and_full_object_checksums(s3: Any, bucket: str) -> None:
    part = os.urandom(5 * MIB)
    tail = b"tail"
    for ctype in ("COMPOSITE", "FULL_OBJECT"):
        key = f"ck-{ctype}"
        up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType=ctype)
        assert up["ChecksumType"] == ctype
        p1 = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=up["UploadId"],
            PartNumber=1,
            Body=part,
            ChecksumAlgorithm="CRC32",
        )
        p2 = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=up["UploadId"],
            PartNumber=2,
            Body=tail,
            ChecksumAlgorithm="CRC32",
        )
        parts = [
            {"PartNumber": 1, "ETag": p1["ETag"], "ChecksumCRC32": p1["ChecksumCRC32"]},
            {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumCRC32": p2["ChecksumCRC32"]},
        ]
        done = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
        )
        assert done["ChecksumType"] == ctype
        assert done["Location"].endswith(f"/{bucket}/{key}")
        got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == part + tail  # botocore validates full-object checksums
        if ctype == "COMPOSITE":
            assert got["ChecksumCRC32"].endswith("-2")
        else:
            import zlib

            whole = zlib.crc32(part + tail).to_bytes(4, "big")
            assert got["ChecksumCRC32"] == base64.b64encode(whole).decode()


def test_completion_rules(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=1, Body=b"a" * 100)
    last = s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=2, Body=b"b" * 100)
    one, two = {"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}
    cases = [
        ([two, one], "InvalidPartOrder"),
        ([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}], "InvalidPart"),
        ([{"PartNumber": 3, "ETag": last["ETag"]}], "InvalidPart"),
        ([one, two], "EntityTooSmall"),
    ]
    for parts, code in cases:
        with pytest.raises(ClientError) as err:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}
            )
        assert error_code(err.value) == code, parts
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=up)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2]
    assert [p["Size"] for p in listed["Parts"]] == [100, 100]
    page = s3.list_parts(Bucket=bucket, Key="k", UploadId=up, MaxParts=1)
    assert page["IsTruncated"]
    assert page["NextPartNumberMarker"] == 1
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("k", up)]
    # A single small part is a valid (last) part.
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": [one]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"a" * 100
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=up)
    assert error_code(err.value) == "NoSuchUpload"


def test_abort_and_part_number_bounds(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="a", UploadId=up, PartNumber=1, Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.upload_part(Bucket=bucket, Key="a", UploadId=up, PartNumber=10001, Body=b"x")
    assert error_code(err.value) == "InvalidArgument"
    s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=up)
    with pytest.raises(ClientError) as err:
        s3.upload_part(Bucket=bucket, Key="a", UploadId=up, PartNumber=1, Body=b"x")
    assert error_code(err.value) == "NoSuchUpload"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    p1 = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=up, PartNumber=1, CopySource=f"{bucket}/src",
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )  # fmt: skip
    p2 = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=up, PartNumber=2, CopySource=f"{bucket}/src",
        CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}",
    )  # fmt: skip
    parts = [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
    ]
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=up, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == source


def test_malformed_xml_body_stores_nothing(ep: Any, s3: Any, bucket: str) -> None:
    import urllib.error
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    up = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="m", UploadId=up, PartNumber=1, Body=b"x")
    creds = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)
    for url, body in [
        (f"{ep.url}/{bucket}/m?uploadId={up}", b"<CompleteMultipartUpload><Part>"),
        (f"{ep.url}/{bucket}?delete", b"<Delete><Object><Key>m</Key></Object>"),
    ]:
        request = AWSRequest(method="POST", url=url, data=body)
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
        request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        S3SigV4Auth(creds, "s3", "us-west-2").add_auth(request)
        prepared = request.prepare()
        raw = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(raw)
        assert err.value.code == 400
        assert b"<Code>MalformedXML</Code>" in err.value.read()
    assert s3.list_parts(Bucket=bucket, Key="m", UploadId=up)["Parts"][0]["ETag"] == p1["ETag"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
