"""Helpers that drive botocore's own serializers and parsers against the wire layer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.handlers import parse_get_bucket_location
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from podid.wire.http import Headers, HttpRequest, HttpResponse

ENDPOINT = "http://127.0.0.1:4566"


def botocore_request(operation: OperationModel, params: Mapping[str, Any]) -> HttpRequest:
    """The HTTP request botocore sends for `params` (unsigned), as the gateway would hand it over."""
    protocol = operation.service_model.protocol
    serializer = create_serializer(protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(dict(params), operation)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = body.read()
    headers = Headers([(k, v if isinstance(v, str) else v.decode()) for k, v in prepared.headers.items()])
    return HttpRequest(
        method=prepared.method, path=url.path or "/", query=url.query, headers=headers, body=body
    )


def botocore_parse(operation: OperationModel, response: HttpResponse) -> dict[str, Any]:
    """What botocore's parser makes of our response (ResponseMetadata removed for success)."""
    parser = create_parser(operation.service_model.protocol)
    headers = HeadersDict()
    for key, value in response.headers:
        headers[key] = value
    raw = {"status_code": response.status, "headers": headers, "body": response.body}
    shape = operation.output_shape if response.status < 300 else None
    parsed: dict[str, Any] = parser.parse(raw, shape)
    if operation.name == "GetBucketLocation" and response.status < 300:
        # botocore's handler for this operation, which its model cannot describe
        parse_get_bucket_location(parsed, _Raw(response.body))
    return parsed


class _Raw:
    def __init__(self, content: bytes) -> None:
        self.raw = content
        self.content = content


def normalise(shape: Shape | None, value: Any) -> Any:
    """Compare-friendly form: blobs as bytes, timestamps as UTC timestamps, nested recursively."""
    if shape is None:
        return value
    kind = shape.type_name
    if isinstance(shape, StructureShape) and isinstance(value, dict) and not shape.is_document_type:
        return {k: normalise(shape.members.get(k), v) for k, v in value.items() if v is not None}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [normalise(shape.member, v) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: normalise(shape.value, v) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    if kind == "blob" and isinstance(value, str):
        return value.encode("utf-8")
    return value
