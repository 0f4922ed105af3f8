"""Regressions found by tests/e2e/test_fuzz_endpoint.py, each with the concrete input that broke.

1. A control character echoed in an error message (`Value '\\x1f' at 'roleName' ...`) made the XML
   error body unparsable for botocore: characters XML 1.0 cannot carry are now written `\\u001f`.
2. `Content-Encoding: gzip` on a body that is not gzip was decoded by aiohttp and failed there (a
   500 with a stack trace in the log); bodies are now the client's bytes: S3 stores a gzip object
   as sent, and the services answer a garbage body with their usual 4xx.
3. A body shorter than its Content-Length (the client went away) logged an aiohttp error; it is now
   refused as IncompleteBody without an error in the log, and the server keeps serving.
4. Documents nested past Python's recursion limit were a RecursionError (500); 5. a YAML template
   key that is not a string (`null:`) was a TypeError (500).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import pytest
import urllib3
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from podid.gateway.testing import RunningEndpoint, running_endpoint

pytestmark = pytest.mark.e2e

REGION = "us-west-2"
ROLE_ARN = "arn:aws:iam::111122223333:role/regress-role"


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    with running_endpoint(
        tmp_path_factory.mktemp("regressions"), region=REGION, account_id="111122223333"
    ) as running:
        s3 = running.boto3_client("s3")
        s3.create_bucket(Bucket="regress-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        running.boto3_client("iam").create_role(
            RoleName="regress-role", AssumeRolePolicyDocument=json.dumps(trust)
        )
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


# 4. Documents nested past Python's recursion limit (JSON policies, templates, JSON bodies, JWT
#    segments) raised RecursionError: a 500. Each reader now refuses them in its own words.

DEEP_ARRAY = "[" * 3000 + "]" * 3000
DEEP_POLICY = '{"Version":"2012-10-17","Statement":' + "[" * 900 + "]" * 900 + "}"


def _b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


@pytest.mark.parametrize("document", [DEEP_ARRAY, DEEP_POLICY])
def test_deeply_nested_policies_are_malformed(ep: RunningEndpoint, document: str) -> None:
    iam, s3, sts = ep.boto3_client("iam"), ep.boto3_client("s3"), ep.boto3_client("sts")
    with pytest.raises(ClientError) as err:
        iam.create_role(RoleName="deep", AssumeRolePolicyDocument=document)
    assert _code(err)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as err:
        iam.put_user_policy(UserName="admin", PolicyName="deep", PolicyDocument=document)
    assert _code(err)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket="regress-bucket", Policy=document)
    assert _code(err)[0] == "MalformedPolicy"
    # (a session policy is at most 2,048 characters: nested within that)
    session = '{"Statement":' + "[" * 1000 + "]" * 1000 + "}"
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="deep", Policy=session)
    assert _code(err)[0] == "MalformedPolicyDocument"


@pytest.mark.parametrize("body", ['{"Resources":' + DEEP_ARRAY + "}", "Resources: " + DEEP_ARRAY])
def test_deeply_nested_templates_are_a_format_error(ep: RunningEndpoint, body: str) -> None:
    cfn = ep.boto3_client("cloudformation")
    with pytest.raises(ClientError) as err:
        cfn.validate_template(TemplateBody=body)
    assert _code(err) == (
        "ValidationError",
        "Template format error: the template nests values more than 100 levels deep",
    )


def test_yaml_template_keys_that_are_not_strings_are_read_as_text(ep: RunningEndpoint) -> None:
    cfn = ep.boto3_client("cloudformation")
    with pytest.raises(ClientError) as err:
        cfn.validate_template(TemplateBody="null: 1\nResources:\n  R: {Type: AWS::IAM::Role}\n")
    assert _code(err) == (
        "ValidationError",
        "Template format error: Invalid template property or properties [null]",
    )


def test_deeply_nested_json_body_is_a_400(ep: RunningEndpoint) -> None:
    request = AWSRequest(
        method="POST",
        url=ep.url + "/clusters",
        data=DEEP_ARRAY.encode(),
        headers={"Content-Type": "application/json"},
    )
    creds = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)
    SigV4Auth(creds, "eks", REGION).add_auth(request)
    response = urllib3.request(
        "POST", request.url, body=request.body, headers=dict(request.headers.items()), retries=False
    )
    assert response.status == 400, response.data
    assert response.headers["x-amzn-ErrorType"] == "InvalidParameterException"


def test_deeply_nested_jwt_segments_are_invalid_tokens(ep: RunningEndpoint) -> None:
    token = f"{_b64(DEEP_ARRAY)}.{_b64('{}')}.c2ln"
    sts = boto3.session.Session().client(
        "sts", endpoint_url=ep.url, region_name=REGION, config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as err:
        sts.assume_role_with_web_identity(RoleArn=ROLE_ARN, RoleSessionName="ss", WebIdentityToken=token)
    assert _code(err)[0] == "InvalidIdentityToken"
    eks = ep.boto3_client("eks")
    eks.create_cluster(name="regress", roleArn=ROLE_ARN, resourcesVpcConfig={})
    with pytest.raises(ClientError) as err:
        ep.boto3_client("eks-auth").assume_role_for_pod_identity(clusterName="regress", token=token)
    assert _code(err)[0] == "InvalidTokenException"


# 6. A lone UTF-16 surrogate (`"\ud800"` in a JSON body or a template) was stored, and every later
#    response carrying it failed to encode: a 500 on that request and on every DescribeCluster or
#    DescribeStacks after it. The JSON reader and the template reader now refuse it.


def test_a_lone_surrogate_in_a_json_body_is_refused_and_nothing_is_stored(ep: RunningEndpoint) -> None:
    body = (
        b'{"name": "lone", "roleArn": "' + ROLE_ARN.encode() + b'", "resourcesVpcConfig": {},'
        b' "tags": {"k\\ud800": "v"}}'
    )
    request = AWSRequest(
        method="POST", url=ep.url + "/clusters", data=body, headers={"Content-Type": "application/json"}
    )
    creds = Credentials(ep.admin.access_key_id, ep.admin.secret_access_key)
    SigV4Auth(creds, "eks", REGION).add_auth(request)
    response = urllib3.request(
        "POST", request.url, body=body, headers=dict(request.headers.items()), retries=False
    )
    assert response.status == 400, response.data
    with pytest.raises(ClientError) as err:
        ep.boto3_client("eks").describe_cluster(name="lone")
    assert _code(err)[0] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "body",
    [
        '{"Description": "\\ud800", "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}',
        'Description: "\\udfff"\nResources: {B: {Type: "AWS::S3::Bucket"}}\n',
    ],
)
def test_a_lone_surrogate_in_a_template_is_a_format_error(ep: RunningEndpoint, body: str) -> None:
    cfn = ep.boto3_client("cloudformation")
    message = "Template format error: the template holds a lone UTF-16 surrogate, which is not valid Unicode"
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName="lone", TemplateBody=body)
    assert _code(err) == ("ValidationError", message)
    with pytest.raises(ClientError) as err:
        cfn.describe_stacks(StackName="lone")
    assert _code(err)[1] == "Stack with id lone does not exist"
