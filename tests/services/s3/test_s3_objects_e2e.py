"""Object operations through boto3 (default settings: checksums on) against a live endpoint."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.httpchecksum import (
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)
from tests.services.s3.s3_support import make_bucket
from tests.support.errors import error_code

from podid.gateway.testing import RunningEndpoint

BOTOCORE_CHECKSUMS = {
    "CRC32": Crc32Checksum,
    "CRC32C": CrtCrc32cChecksum,
    "CRC64NVME": CrtCrc64NvmeChecksum,
    "SHA1": Sha1Checksum,
    "SHA256": Sha256Checksum,
}


def botocore_checksum(algorithm: str, data: bytes) -> str:
    c = BOTOCORE_CHECKSUMS[algorithm]()
    c.update(data)
    digest: bytes = c.digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def bucket(s3: Any) -> str:
    return make_bucket(s3)


def test_put_get_head_with_metadata_and_content_headers(s3: Any, bucket: str) -> None:
    body = b"hello world"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/hello.txt",
        Body=body,
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition="attachment",
        Metadata={"Owner": "me"},
    )
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["Metadata"] == {"owner": "me"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["ResponseMetadata"]["HTTPHeaders"]["content-length"] == str(len(body))
    assert head["AcceptRanges"] == "bytes"
    empty = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    assert empty["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_every_checksum_algorithm(s3: Any, bucket: str, algorithm: str) -> None:
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key=f"ck-{algorithm}", Body=body, ChecksumAlgorithm=algorithm)
    member = f"Checksum{algorithm}"
    assert put[member] == botocore_checksum(algorithm, body)
    got = s3.get_object(Bucket=bucket, Key=f"ck-{algorithm}", ChecksumMode="ENABLED")
    assert got[member] == botocore_checksum(algorithm, body)  # botocore validated it while reading, too
    assert got["Body"].read() == body
    assert got["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key=f"ck-{algorithm}", ChecksumMode="ENABLED")
    assert head[member] == put[member]


def test_default_checksum_and_crc64nvme_when_none_sent(ep: RunningEndpoint, bucket: str) -> None:
    plain = ep.boto3_client(
        "s3",
        config=__import__("botocore.config").config.Config(request_checksum_calculation="when_required"),
    )
    put = plain.put_object(Bucket=bucket, Key="nochecksum", Body=b"abc")
    assert put["ChecksumCRC64NVME"] == botocore_checksum("CRC64NVME", b"abc")


def test_wrong_checksum_is_bad_digest_and_nothing_stored(s3: Any, bucket: str) -> None:
    wrong = botocore_checksum("CRC32", b"other")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"data", ChecksumCRC32=wrong)
    assert error_code(err.value) == "BadDigest"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"data", ChecksumSHA256="notbase64!")
    assert error_code(err.value) == "InvalidRequest"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_wrong_content_md5_is_bad_digest_and_nothing_stored(s3: Any, bucket: str) -> None:
    other_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"data", ContentMD5=other_md5)
    assert error_code(err.value) == "BadDigest"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"data", ContentMD5="short")
    assert error_code(err.value) == "InvalidDigest"
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.put_object(Bucket=bucket, Key="md5", Body=b"data", ContentMD5=good)
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == b"data"


def test_ranges(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    for header, expected, content_range in [
        ("bytes=0-9", body[:10], "bytes 0-9/1024"),
        ("bytes=1000-", body[1000:], "bytes 1000-1023/1024"),
        ("bytes=-5", body[-5:], "bytes 1019-1023/1024"),
        ("bytes=1020-5000", body[1020:], "bytes 1020-1023/1024"),
    ]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=header, ChecksumMode="ENABLED")
        assert got["Body"].read() == expected
        assert got["ContentRange"] == content_range
        assert got["ContentLength"] == len(expected)
        assert "ChecksumCRC32" not in got  # a range never carries the whole object's checksum
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=2000-")
    assert error_code(err.value) == "InvalidRange"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert s3.get_object(Bucket=bucket, Key="r", Range="chars=1-2")["Body"].read() == body  # ignored


def test_conditional_requests(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert error_code(err.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*")
    assert error_code(err.value) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"v1"


def test_missing_keys_and_buckets(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_code(err.value) == "NoSuchKey"
    assert err.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="no-such-bucket-here", Key="x")
    assert error_code(err.value) == "NoSuchBucket"
    s3.delete_object(Bucket=bucket, Key="nope")  # deleting a missing key succeeds (204)


def test_listing_prefix_delimiter_pagination_and_url_encoding(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d e+f", "ü/ñ"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys)
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c", "d e+f"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "ü/"]
    assert top["KeyCount"] == 5
    under = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in under["CommonPrefixes"]] == ["a/b/"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == sorted(keys)
    v1 = s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    seen = [
        (o["Key"] if "Key" in o else o["Prefix"])
        for page in v1
        for o in page.get("Contents", []) + page.get("CommonPrefixes", [])
    ]
    assert sorted(seen) == ["a/", "b/", "c", "d e+f", "ü/"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="b/4")
    assert [o["Key"] for o in after["Contents"]] == ["c", "d e+f", "ü/ñ"]
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="bogus")
    assert error_code(err.value) == "InvalidArgument"


def test_copy_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", Metadata={"a": "1"}, ContentType="text/x")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"payload"
    assert got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/x"
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
    )
    assert s3.head_object(Bucket=bucket, Key="dst2")["Metadata"] == {"b": "2"}
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert error_code(err.value) == "InvalidRequest"
    s3.delete_object(Bucket=bucket, Key="src")  # the copy keeps its bytes
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"payload"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/src")
    assert error_code(err.value) == "NoSuchKey"


def test_delete_objects(s3: Any, bucket: str) -> None:
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["k0", "k1", "zz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k2"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=blue&env=dev")
    assert sorted(t["Key"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]) == [
        "env",
        "team",
    ]
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    with pytest.raises(ClientError) as err:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": too_many})
    assert error_code(err.value) == "InvalidTag"
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


def test_presigned_get_and_put_with_plain_http(s3: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    # SigV2 signs Content-Type: send none (urllib would add a form type otherwise), as curl -T does.
    request = urllib.request.Request(
        put_url, data=b"presigned body", method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    with urllib.request.urlopen(get_url) as response:
        assert response.read() == b"presigned body"
    tampered = get_url.replace("Key=p", "Key=q") if "Key=p" in get_url else get_url.replace("/p?", "/q?")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(tampered)
    assert err.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in err.value.read()


def _presign_v4_in_the_past(ep: RunningEndpoint, url: str, seconds_ago: int, expires: int) -> str:
    """A SigV4 presigned GET signed by botocore's own signer with a clock set in the past."""
    from unittest import mock

    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)
    request = AWSRequest(method="GET", url=url)
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=seconds_ago)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        S3SigV4QueryAuth(creds, "s3", "us-west-2", expires=expires).add_auth(request)
    return str(request.prepare().url)


def test_expired_presigned_url_is_refused(ep: RunningEndpoint, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="old", Body=b"x")
    sigv2 = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "old"}, ExpiresIn=-60)
    fresh_v4 = _presign_v4_in_the_past(ep, f"{ep.url}/{bucket}/old", 120, 3600)
    with urllib.request.urlopen(fresh_v4) as response:
        assert response.read() == b"x"
    stale_v4 = _presign_v4_in_the_past(ep, f"{ep.url}/{bucket}/old", 120, 60)
    for url in (sigv2, stale_v4):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url)
        assert err.value.code == 403
        body = err.value.read()
        assert b"<Code>AccessDenied</Code>" in body
        assert b"Request has expired" in body


def test_metadata_limit(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={"big": "v" * 2100})
    assert error_code(err.value) == "MetadataTooLarge"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_acls_are_disabled(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="public-read")
    assert error_code(err.value) == "AccessControlListNotSupported"
    s3.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as err:
        s3.create_bucket(
            Bucket=bucket + "-acl",
            ACL="public-read",
            CreateBucketConfiguration={"LocationConstraint": "us-west-2"},
        )
    assert error_code(err.value) == "InvalidBucketAclWithObjectOwnership"
