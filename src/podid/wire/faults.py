"""Errors the wire layer itself raises, and the one place where any `AwsError` becomes a response.

`error_response` writes an error in the exact form of each protocol:

- query: `<ErrorResponse xmlns=ns><Error><Type>Sender|Receiver</Type><Code/><Message/>...</Error>
  <RequestId/></ErrorResponse>`, `text/xml`, `x-amzn-RequestId`;
- json: `{"__type": Code, "message": ...}` + `x-amzn-ErrorType`;
- rest-json: `x-amzn-ErrorType: Code` and `{"message": ..., <extra error-shape fields>}`;
- rest-xml (S3): `<Error><Code/><Message/>...fields...<RequestId/><HostId/></Error>` with
  `x-amz-request-id` and `x-amz-id-2`; no body for HEAD requests, as S3 sends none.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, ClassVar
from xml.sax.saxutils import escape, quoteattr

from botocore.model import OperationModel

from podid.errors import AwsError, ClientError
from podid.wire.http import HttpResponse
from podid.wire.xmlsafe import xml_text


class InvalidAction(ClientError):
    """query: an Action the service does not have for the given Version."""

    code: ClassVar[str] = "InvalidAction"


class MissingAction(ClientError):
    """query: no Action at all (our choice of code: the one EC2-family query services use)."""

    code: ClassVar[str] = "MissingAction"


class UnknownOperation(ClientError):
    """json: an X-Amz-Target the service does not know; rest-json: no template matched (404)."""

    code: ClassVar[str] = "UnknownOperationException"


class SerializationException(ClientError):
    """json protocol: a body that is not a JSON object."""

    code: ClassVar[str] = "SerializationException"


class MalformedXML(ClientError):
    """S3: a request body that is not well-formed XML (or is of the wrong document)."""

    code: ClassVar[str] = "MalformedXML"


class MethodNotAllowed(ClientError):
    """S3: the resource exists as a route but not for this method."""

    code: ClassVar[str] = "MethodNotAllowed"
    status: ClassVar[int] = 405


class NotImplementedS3(AwsError):
    """S3: a request that addresses functionality S3 (or podid) does not implement."""

    code: ClassVar[str] = "NotImplemented"
    status: ClassVar[int] = 501
    sender_fault: ClassVar[bool] = True


def host_id(request_id: str) -> str:
    """A stable `x-amz-id-2` for a request id (S3 sends an opaque base64 token)."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest() * 2).decode()


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def error_response(
    protocol: str,
    error: AwsError,
    request_id: str,
    *,
    xml_namespace: str = "",
    json_version: str = "1.1",
    operation: OperationModel | None = None,
) -> HttpResponse:
    headers: list[tuple[str, str]] = []
    if protocol == "query":
        fields = "".join(
            f"<{k}>{xml_text(_field_text(v))}</{k}>" for k, v in error.fields.items() if v is not None
        )
        kind = "Sender" if error.sender_fault else "Receiver"
        ns = f" xmlns={quoteattr(xml_namespace)}" if xml_namespace else ""
        text = (
            f"<ErrorResponse{ns}><Error><Type>{kind}</Type><Code>{xml_text(error.code)}</Code>"
            f"<Message>{xml_text(error.message)}</Message>{fields}</Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        )
        body = text.encode("utf-8")
        headers += [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")]
    elif protocol == "rest-xml":
        fields = "".join(
            f"<{k}>{xml_text(_field_text(v))}</{k}>" for k, v in error.fields.items() if v is not None
        )
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{xml_text(error.code)}</Code><Message>{xml_text(error.message)}</Message>{fields}"
            f"<RequestId>{escape(request_id)}</RequestId><HostId>{host_id(request_id)}</HostId></Error>"
        )
        head = operation is not None and str(operation.http.get("method", "")).upper() == "HEAD"
        body = b"" if head else text.encode("utf-8")
        headers += [
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", host_id(request_id)),
            ("Content-Type", "application/xml"),
        ]
    else:
        document: dict[str, Any] = {}
        if protocol == "json":
            document["__type"] = error.code
        document["message"] = error.message
        for key, value in error.fields.items():
            if value is not None:
                document.setdefault(key, value)
        body = json.dumps(document, separators=(",", ":"), default=str).encode("utf-8")
        content_type = f"application/x-amz-json-{json_version}" if protocol == "json" else "application/json"
        headers += [
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.code),
            ("Content-Type", content_type),
        ]
    headers.extend(error.headers.items())
    return HttpResponse(status=error.status, headers=headers, body=body)
