"""S3 range reads answer 206, and a public-read bucket policy opens objects to unsigned requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from podid.gateway.testing import running_endpoint


def test_range_read_is_206_and_anonymous_needs_a_public_policy(tmp_path: Path) -> None:
    with running_endpoint(tmp_path) as ep:
        s3 = ep.boto3_client("s3")
        s3.create_bucket(Bucket="public-bkt", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        s3.put_object(Bucket="public-bkt", Key="k", Body=b"0123456789")

        ranged = s3.get_object(Bucket="public-bkt", Key="k", Range="bytes=2-4")
        assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert ranged["ContentRange"] == "bytes 2-4/10"
        assert ranged["Body"].read() == b"234"
        whole = s3.get_object(Bucket="public-bkt", Key="k")
        assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200

        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(ep.url + "/public-bkt/k", timeout=10)
        assert denied.value.code == 403
        assert b"<Code>AccessDenied</Code>" in denied.value.read()
        denied.value.close()

        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::public-bkt/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket="public-bkt", Policy=json.dumps(policy))
        with urllib.request.urlopen(ep.url + "/public-bkt/k", timeout=10) as resp:
            assert resp.status == 200
            assert resp.read() == b"0123456789"
        with pytest.raises(urllib.error.HTTPError) as listing:
            urllib.request.urlopen(ep.url + "/public-bkt", timeout=10)
        assert listing.value.code == 403
        listing.value.close()
