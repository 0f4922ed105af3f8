"""Errors in each protocol as botocore reads them, routing failures, and model validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podid.errors import AccessDenied, AwsError
from podid.wire.http import Headers, HttpRequest
from podid.wire.protocol import ServiceWire
from podid.wire.validate import ModelValidationError
from tests.wire.roundtrip import botocore_parse, botocore_request


@pytest.mark.parametrize(
    ("service", "op", "error", "fields"),
    [
        ("iam", "GetRole", AccessDenied("User: x is not authorized"), {}),
        ("sts", "AssumeRole", AwsError("boom", code="MalformedPolicyDocument", status=400), {}),
        (
            "eks",
            "DescribeCluster",
            AwsError(
                "No cluster found for name: c.",
                code="ResourceNotFoundException",
                status=404,
                fields={"clusterName": "c"},
            ),
            {"clusterName": "c"},
        ),
        (
            "eks-auth",
            "AssumeRoleForPodIdentity",
            AwsError("denied", code="AccessDeniedException", status=400),
            {},
        ),
        (
            "s3",
            "GetObject",
            AwsError("The specified key does not exist.", code="NoSuchKey", status=404, fields={"Key": "k"}),
            {"Key": "k"},
        ),
        (
            "cloudformation",
            "DescribeStacks",
            AwsError("Stack x does not exist", code="ValidationError", status=400),
            {},
        ),
    ],
)
def test_error_as_botocore_reads_it(service: str, op: str, error: AwsError, fields: dict[str, str]) -> None:
    wire = ServiceWire.for_service(service)
    operation = wire.service_model.operation_model(op)
    response = wire.serialize_error(error, "rid-1", operation)
    assert response.status == error.status
    parsed = botocore_parse(operation, response)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"
    for key, value in fields.items():
        if wire.protocol == "rest-xml":
            assert parsed["Error"][key] == value
    if wire.protocol == "query":
        assert parsed["Error"]["Type"] == ("Sender" if error.sender_fault else "Receiver")
        assert response.header("Content-Type") == "text/xml"
    if wire.protocol == "rest-json":
        assert response.header("x-amzn-ErrorType") == error.code
        assert b'"clusterName":"c"' in response.body or not fields
    if wire.protocol == "rest-xml":
        assert response.header("x-amz-request-id") == "rid-1"
        assert response.header("x-amz-id-2")


def test_s3_head_error_has_no_body() -> None:
    wire = ServiceWire.for_service("s3")
    response = wire.serialize_error(
        AwsError("Not Found", code="404", status=404), "r", wire.service_model.operation_model("HeadObject")
    )
    assert response.status == 404
    assert response.body == b""


def _form(body: str, query: str = "") -> HttpRequest:
    headers = Headers([("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
    return HttpRequest("POST", "/", query=query, headers=headers, body=body.encode())


def test_query_unknown_action_and_version() -> None:
    wire = ServiceWire.for_service("iam")
    with pytest.raises(AwsError) as info:
        wire.parse(_form("Action=Frobnicate&Version=2010-05-08"))
    assert (info.value.code, info.value.status) == ("InvalidAction", 400)
    assert info.value.message == "Could not find operation Frobnicate for version 2010-05-08"
    with pytest.raises(AwsError) as info:
        wire.parse(_form("Action=GetCallerIdentity"))
    assert info.value.message == "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED"
    with pytest.raises(AwsError) as info:
        wire.parse(_form("RoleName=x"))
    assert info.value.code == "MissingAction"


def test_query_get_presigned_style() -> None:
    wire = ServiceWire.for_service("sts")
    request = HttpRequest(
        "GET", "/", query="Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    )
    parsed = wire.parse(request)
    assert parsed.name == "GetCallerIdentity"
    assert parsed.params == {}


def test_iam_validation_message_format() -> None:
    wire = ServiceWire.for_service("iam")
    with pytest.raises(ModelValidationError) as info:
        wire.parse(_form("Action=GetRole&Version=2010-05-08&RoleName=bad%20name"))
    error = info.value
    assert (error.code, error.status) == ("ValidationError", 400)
    assert error.message == (
        "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )
    with pytest.raises(ModelValidationError) as info:
        wire.parse(_form("Action=GetRole&Version=2010-05-08&RoleName="))
    assert info.value.message.startswith(
        "2 validation errors detected: Value '' at 'roleName' failed to satisfy"
    )
    with pytest.raises(ModelValidationError) as info:
        wire.parse(_form("Action=GetRole&Version=2010-05-08"))
    assert info.value.message == (
        "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_sts_range_type_and_unicode_patterns() -> None:
    wire = ServiceWire.for_service("sts")
    base = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/r&RoleSessionName=s1"
    with pytest.raises(ModelValidationError) as info:
        wire.parse(_form(base + "&DurationSeconds=43201"))
    assert "Value '43201' at 'durationSeconds' failed to satisfy constraint: " in info.value.message
    assert "Member must have value less than or equal to 43200" in info.value.message
    with pytest.raises(ModelValidationError) as info:
        wire.parse(_form(base + "&DurationSeconds=abc"))
    assert "at 'durationSeconds'" in info.value.message
    # \p{L} in the tag key pattern: a non-ASCII letter is fine, a '!' is not.
    parsed = wire.parse(_form(base + "&Tags.member.1.Key=Abteilung%C3%A9&Tags.member.1.Value=v"))
    assert parsed.params["Tags"] == [{"Key": "Abteilungé", "Value": "v"}]
    with pytest.raises(ModelValidationError) as info:
        wire.parse(_form(base + "&Tags.member.1.Key=bad!&Tags.member.1.Value=v"))
    assert "at 'tags.1.member.key'" in info.value.message
    assert info.value.failures[0].members == ("Tags", 0, "Key")


def test_eks_auth_bad_token_is_exposed_for_mapping() -> None:
    wire = ServiceWire.for_service("eks-auth")
    operation = wire.service_model.operation_model("AssumeRoleForPodIdentity")
    request = botocore_request(operation, {"clusterName": "demo", "token": "not-a-jwt"})
    with pytest.raises(ModelValidationError) as info:
        wire.parse(request)
    assert (info.value.code, info.value.status) == ("InvalidParameterException", 400)
    assert info.value.failed_members() == {"token"}
    assert "not-a-jwt" not in info.value.message  # sensitive values are not echoed


def test_rest_json_unknown_route_and_bad_json() -> None:
    wire = ServiceWire.for_service("eks")
    with pytest.raises(AwsError) as info:
        wire.parse(HttpRequest("GET", "/no/such/thing"))
    assert (info.value.code, info.value.status) == ("UnknownOperationException", 404)
    with pytest.raises(AwsError) as info:
        wire.parse(HttpRequest("POST", "/clusters/demo/pod-identity-associations", body=b"{nope"))
    assert (info.value.code, info.value.status) == ("InvalidParameterException", 400)
    with pytest.raises(AwsError) as info:
        wire.parse(HttpRequest("POST", "/clusters/demo/pod-identity-associations", body=b'{"namespace": 5}'))
    assert info.value.code == "InvalidParameterException"


def test_s3_routing_specificity_and_virtual_host() -> None:
    wire = ServiceWire.for_service("s3")
    assert wire.parse(HttpRequest("GET", "/bkt", query="list-type=2")).name == "ListObjectsV2"
    assert wire.parse(HttpRequest("GET", "/bkt")).name == "ListObjects"
    assert wire.parse(HttpRequest("GET", "/")).name == "ListBuckets"
    assert wire.parse(HttpRequest("POST", "/bkt/a/b.txt", query="uploads")).name == "CreateMultipartUpload"
    put = wire.parse(HttpRequest("PUT", "/bkt/a/b.txt", query="partNumber=2&uploadId=u", body=b"xyz"))
    assert put.name == "UploadPart"
    assert put.params["PartNumber"] == 2
    assert put.params["Body"] == b"xyz"
    hosted = wire.parse(HttpRequest("GET", "/a/b%20c.txt"), bucket_from_host="bkt")
    assert hosted.name == "GetObject"
    assert hosted.params["Bucket"] == "bkt"
    assert hosted.params["Key"] == "a/b c.txt"
    assert wire.parse(HttpRequest("GET", "/"), bucket_from_host="bkt").name == "ListObjects"
    with pytest.raises(AwsError) as info:
        wire.parse(HttpRequest("PATCH", "/bkt/key"))
    assert (info.value.code, info.value.status) == ("MethodNotAllowed", 405)


def test_s3_xml_refuses_doctype() -> None:
    wire = ServiceWire.for_service("s3")
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Tagging><TagSet/></Tagging>'
    with pytest.raises(AwsError) as info:
        wire.parse(HttpRequest("PUT", "/bkt", query="tagging", body=body))
    assert info.value.code == "MalformedXML"


def test_query_timestamps_have_milliseconds() -> None:
    wire = ServiceWire.for_service("sts")
    operation = wire.service_model.operation_model("AssumeRole")
    when = datetime(2026, 11, 28, 20, 0, 0, 123000, tzinfo=UTC)
    result = {
        "Credentials": {
            "AccessKeyId": "ASIAX",
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": when,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAX:s", "Arn": "arn:aws:sts::1:assumed-role/r/s"},
    }
    response = wire.serialize(operation, result, "rid")
    assert b"<Expiration>2026-11-28T20:00:00.123Z</Expiration>" in response.body
    assert response.body.startswith(b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    parsed = botocore_parse(operation, response)
    assert parsed["Credentials"]["Expiration"] == when


@pytest.mark.parametrize("key", ["a b/c+d%e~f.txt", "dir/", "ü/€", "x?y=z&w"])
def test_s3_tricky_keys_as_botocore_encodes_them(key: str) -> None:
    wire = ServiceWire.for_service("s3")
    operation = wire.service_model.operation_model("GetObject")
    request = botocore_request(operation, {"Bucket": "bkt", "Key": key})
    parsed = wire.parse(request)
    assert parsed.name == "GetObject"
    assert parsed.params == {"Bucket": "bkt", "Key": key}
