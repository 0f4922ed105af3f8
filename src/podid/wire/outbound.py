"""Writing successful responses, one writer per protocol family.

- query: `<OpResponse xmlns=ns><OpResult>...</OpResult><ResponseMetadata><RequestId/>
  </ResponseMetadata></OpResponse>` (`resultWrapper` from the model), `text/xml`;
- json: the output structure as JSON, `application/x-amz-json-1.x`;
- rest-json / rest-xml: members placed by location (header, headers prefix, statusCode), the payload
  member (structure, or blob/string bytes or an async byte stream) or the remaining body members.

botocore's models do not name the root element of S3's body-less-payload outputs; the names S3
really uses are facts kept in `S3_ROOTS` (botocore ignores the root name, other clients may not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import MapShape, OperationModel, StructureShape

from podid.wire.encode import dump_json, header_text, json_value, namespace_attrs, xml_element, xml_members
from podid.wire.faults import host_id
from podid.wire.http import HttpResponse

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

S3_ROOTS: Mapping[str, str] = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketTagging": "Tagging",
    "GetObjectTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketReplication": "ReplicationConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "CreateSession": "CreateSessionResult",
}

# S3 operations whose whole body is one element carrying the member's value as text (the model says
# a structure; S3 sends `<LocationConstraint xmlns="...">eu-west-1</LocationConstraint>`, and
# botocore's GetBucketLocation handler reads the root's text).
S3_TEXT_ROOTS: Mapping[str, str] = {"GetBucketLocation": "LocationConstraint"}


def query_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str, namespace: str
) -> HttpResponse:
    name = operation.name
    ns = f' xmlns="{namespace}"' if namespace else ""
    out = [f"<{name}Response{ns}>"]
    shape = operation.output_shape
    if isinstance(shape, StructureShape):
        wrapper = str(shape.serialization.get("resultWrapper", f"{name}Result"))
        out.append(f"<{wrapper}>")
        xml_members(shape, result, out)
        out.append(f"</{wrapper}>")
    out.append(
        f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata></{name}Response>"
    )
    body = "".join(out).encode("utf-8")
    return HttpResponse(200, [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")], body)


def json_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str, json_version: str
) -> HttpResponse:
    shape = operation.output_shape
    document = json_value(shape, result) if shape is not None else {}
    headers = [("x-amzn-RequestId", request_id), ("Content-Type", f"application/x-amz-json-{json_version}")]
    return HttpResponse(200, headers, dump_json(document))


def rest_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str, *, xml: bool, s3: bool
) -> HttpResponse:
    status = int(operation.http.get("responseCode", 200))
    if s3:
        headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id(request_id))]
    else:
        headers = [("x-amzn-RequestId", request_id)]
    body = b""
    stream: AsyncIterator[bytes] | None = None
    content_type: str | None = None
    shape = operation.output_shape
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            value = result.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            wire_name = str(member.serialization.get("name", name))
            if location == "header":
                if member.type_name == "list" and not value:
                    continue
                headers.append((wire_name, header_text(member, value)))
            elif location == "headers" and isinstance(member, MapShape):
                headers.extend((wire_name + str(k), str(v)) for k, v in value.items())
            elif location == "statusCode":
                status = int(value)
        if s3 and operation.name == "GetObject" and result.get("ContentRange"):
            # S3 answers a range (or partNumber) read with 206; the model has no status member for it.
            status = 206
        payload_name = shape.serialization.get("payload")
        if payload_name:
            payload_shape = shape.members[payload_name]
            value = result.get(payload_name)
            if payload_shape.type_name in ("blob", "string"):
                if isinstance(value, str):
                    body = value.encode("utf-8")
                elif isinstance(value, bytes | bytearray):
                    body = bytes(value)
                elif value is not None:
                    stream = value
            elif value is not None:
                if xml:
                    root = str(payload_shape.serialization.get("name", payload_shape.name))
                    body = _xml_document(payload_shape, value, root, s3)
                else:
                    body = dump_json(json_value(payload_shape, value))
                content_type = "application/xml" if xml else "application/json"
        elif s3 and operation.name in S3_TEXT_ROOTS:
            member_name = S3_TEXT_ROOTS[operation.name]
            text = escape(str(result.get(member_name) or ""))
            root = f'<{member_name} xmlns="{S3_NAMESPACE}">{text}</{member_name}>'
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + root).encode()
            content_type = "application/xml"
        elif _has_body_members(shape):
            if xml:
                root = str(
                    shape.serialization.get("name")
                    or S3_ROOTS.get(operation.name)
                    or f"{operation.name}Result"
                )
                body = _xml_document(shape, result, root, s3)
                content_type = "application/xml"
            else:
                body = dump_json(json_value(shape, result))
                content_type = "application/json"
    elif not xml:
        body = b"{}"
        content_type = "application/json"
    if content_type is not None and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", content_type))
    return HttpResponse(status, headers, body, stream)


def _has_body_members(shape: StructureShape) -> bool:
    return any("location" not in m.serialization for m in shape.members.values())


def _xml_document(shape: Any, value: Any, root: str, s3: bool) -> bytes:
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    extra = ""
    if s3 and not namespace_attrs(shape):
        extra = f' xmlns="{S3_NAMESPACE}"'
    xml_element(shape, value, root, out, extra)
    return "".join(out).encode("utf-8")
