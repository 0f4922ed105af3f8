"""GetObject bodies go out with sendfile: whole and ranged downloads are byte-exact, and a client
that goes away mid-download is no server error (nothing logged at ERROR, the next download whole)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest

from podid.gateway.testing import RunningEndpoint, running_endpoint

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("s3-download")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def s3(ep: RunningEndpoint) -> Any:
    return ep.boto3_client("s3")


def signed_get(ep: RunningEndpoint, s3: Any, path: str) -> bytes:
    request = AWSRequest(method="GET", url=ep.url + path)
    S3SigV4Auth(s3._request_signer._credentials, "s3", "us-west-2").add_auth(request)
    lines = [f"GET {path} HTTP/1.1", f"Host: {urlsplit(ep.url).netloc}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_whole_and_ranged_downloads(s3: Any) -> None:
    s3.create_bucket(Bucket="dl-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    body = os.urandom(5 * MIB + 333)
    s3.put_object(Bucket="dl-bucket", Key="big", Body=body)
    assert s3.get_object(Bucket="dl-bucket", Key="big")["Body"].read() == body
    got = s3.get_object(Bucket="dl-bucket", Key="big", Range=f"bytes={MIB - 5}-{3 * MIB + 10}")
    assert got["Body"].read() == body[MIB - 5 : 3 * MIB + 11]
    assert s3.get_object(Bucket="dl-bucket", Key="big", Range="bytes=-100")["Body"].read() == body[-100:]


def test_client_going_away_mid_download(
    ep: RunningEndpoint, s3: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket="cut-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    body = os.urandom(32 * MIB)
    s3.put_object(Bucket="cut-bucket", Key="k", Body=body)
    raw = signed_get(ep, s3, "/cut-bucket/k")
    port = urlsplit(ep.url).port
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port or 0), timeout=10) as sock:
                sock.sendall(raw)
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert s3.get_object(Bucket="cut-bucket", Key="k")["Body"].read() == body
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
