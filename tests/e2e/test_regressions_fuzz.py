"""Regressions found by tests/e2e/test_fuzz_endpoint.py, each with the concrete input that broke.

1. A control character echoed in an error message (`Value '\\x1f' at 'roleName' ...`) made the XML
   error body unparsable for botocore: characters XML 1.0 cannot carry are now written `\\u001f`.
2. `Content-Encoding: gzip` on a body that is not gzip was decoded by aiohttp and failed there (a
   500 with a stack trace in the log); bodies are now the client's bytes: S3 stores a gzip object
   as sent, and the services answer a garbage body with their usual 4xx.
3. A body shorter than its Content-Length (the client went away) logged an aiohttp error; it is now
   refused as IncompleteBody without an error in the log, and the server keeps serving.
"""

from __future__ import annotations

import gzip
import logging
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

REGION = "us-west-2"


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(tmp_path_factory.mktemp("regressions"), region=REGION) as running:
        s3 = running.boto3_client("s3")
        s3.create_bucket(Bucket="regress-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        yield running


def signed_post(
    ep: RunningEndpoint, service: str, body: bytes, headers: dict[str, str]
) -> urllib3.BaseHTTPResponse:
    request = AWSRequest(method="POST", url=ep.url + "/", data=body, headers=headers)
    creds = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)
    SigV4Auth(creds, service, REGION).add_auth(request)
    return urllib3.request(
        "POST", ep.url + "/", body=body, headers=dict(request.headers.items()), retries=False
    )


def test_a_control_character_echoed_in_a_query_error_is_escaped(ep: RunningEndpoint) -> None:
    iam = ep.boto3_client("iam")
    with pytest.raises(ClientError) as err:
        iam.get_role(RoleName="\x1f")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Value '\\u001f' at 'roleName'" in err.value.response["Error"]["Message"]


def test_a_control_character_in_an_s3_error_field_is_escaped(ep: RunningEndpoint) -> None:
    s3 = ep.boto3_client("s3")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="regress-bucket", Key="a\x01b")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    assert err.value.response["Error"]["Key"] == "a\\u0001b"


FORM_GZIP = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Content-Encoding": "gzip"}


def test_gzip_content_encoding_on_a_plain_query_body_reads_it_as_sent(ep: RunningEndpoint) -> None:
    # podid does not decompress request bodies (no operation it serves takes compressed requests)
    response = signed_post(ep, "sts", b"Action=GetCallerIdentity&Version=2011-06-15", FORM_GZIP)
    assert response.status == 200, response.data
    assert b"<Account>" in response.data


def test_gzip_content_encoding_on_a_garbage_body_is_the_services_4xx(ep: RunningEndpoint) -> None:
    response = signed_post(ep, "sts", b"\x1f\x8b\x00garbage", FORM_GZIP)
    assert response.status == 400, response.data
    assert b"<Code>MalformedQueryString</Code>" in response.data


def test_s3_keeps_a_gzip_object_as_sent(ep: RunningEndpoint) -> None:
    s3 = ep.boto3_client("s3")
    packed = gzip.compress(b"hello " * 100)
    s3.put_object(Bucket="regress-bucket", Key="packed.txt", Body=packed, ContentEncoding="gzip")
    got = s3.get_object(Bucket="regress-bucket", Key="packed.txt")
    assert got["ContentEncoding"] == "gzip"
    assert got["Body"].read() == packed
    not_gzip = b"plain bytes that only claim to be gzip"
    s3.put_object(Bucket="regress-bucket", Key="liar.txt", Body=not_gzip, ContentEncoding="gzip")
    assert s3.get_object(Bucket="regress-bucket", Key="liar.txt")["Body"].read() == not_gzip


def test_a_truncated_body_leaves_no_error_and_the_server_serving(
    ep: RunningEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    host = urlsplit(ep.url)
    raw = [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=GetCall",
        b"PUT /regress-bucket/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ]
    with caplog.at_level(logging.ERROR):
        for message in raw:
            with socket.create_connection((host.hostname, host.port), timeout=5) as sock:
                sock.sendall(message)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        identity = ep.boto3_client("sts").get_caller_identity()
    assert identity["Arn"].endswith(":user/admin")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()
