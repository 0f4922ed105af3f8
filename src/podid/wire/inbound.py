"""Reading requests into (operation, params), one reader per protocol family.

`read_query`, `read_json` and `read_rest` find the operation (see `podid.wire.routing`) and decode
its input by the botocore shapes. Per operation, the input members are partitioned by location once
(`InputPlan`) so that the hot path only walks what the request can carry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from podid.errors import AwsError
from podid.wire import timestamps
from podid.wire.decode import (
    QueryForm,
    bad,
    json_value,
    load_json,
    scalar_from_text,
    xml_structure,
)
from podid.wire.encode import header_list
from podid.wire.faults import (
    InvalidAction,
    MalformedXML,
    MissingAction,
    SerializationException,
    UnknownOperation,
)
from podid.wire.http import HttpRequest
from podid.wire.routing import RouteMatch
from podid.wire.xmlsafe import XmlError, local_name, parse_xml


@dataclass(frozen=True)
class InputPlan:
    """Where each input member of one operation travels."""

    shape: StructureShape | None
    uri: tuple[tuple[str, Shape, str], ...]  # (member, shape, label)
    query: tuple[tuple[str, Shape, str], ...]
    query_map: tuple[str, MapShape] | None
    header: tuple[tuple[str, Shape, str], ...]
    header_maps: tuple[tuple[str, MapShape, str], ...]
    payload: tuple[str, Shape] | None
    streaming: bool
    body_members: bool

    @classmethod
    def build(cls, operation: OperationModel) -> InputPlan:
        shape = operation.input_shape
        uri: list[tuple[str, Shape, str]] = []
        query: list[tuple[str, Shape, str]] = []
        header: list[tuple[str, Shape, str]] = []
        header_maps: list[tuple[str, MapShape, str]] = []
        query_map: tuple[str, MapShape] | None = None
        payload: tuple[str, Shape] | None = None
        streaming = False
        body_members = False
        if isinstance(shape, StructureShape):
            for name, member in shape.members.items():
                location = member.serialization.get("location")
                wire_name = str(member.serialization.get("name", name))
                if location == "uri":
                    uri.append((name, member, wire_name))
                elif location == "querystring":
                    if isinstance(member, MapShape):
                        query_map = (name, member)
                    else:
                        query.append((name, member, wire_name))
                elif location == "header":
                    header.append((name, member, wire_name))
                elif location == "headers" and isinstance(member, MapShape):
                    header_maps.append((name, member, wire_name.lower()))
                elif location is None:
                    body_members = True
            payload_name = shape.serialization.get("payload")
            if payload_name:
                member = shape.members[payload_name]
                payload = (payload_name, member)
                streaming = member.type_name in ("blob", "string")
        return cls(
            shape if isinstance(shape, StructureShape) else None,
            tuple(uri),
            tuple(query),
            query_map,
            tuple(header),
            tuple(header_maps),
            payload,
            streaming,
            body_members,
        )


# --- query ----------------------------------------------------------------------------------------


def query_fields(request: HttpRequest) -> dict[str, str]:
    """Fields of a query-protocol request: URL query string, then a form-encoded body (which wins)."""
    fields: dict[str, str] = dict(request.query_pairs()) if request.query else {}
    content_type = request.headers.get("content-type", "").lower()
    if request.body and (not content_type or "x-www-form-urlencoded" in content_type):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise AwsError(
                "The request body is not valid UTF-8.", code="MalformedQueryString", status=400
            ) from None
        fields.update(form_pairs(text))
    return fields


def form_pairs(text: str) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True)`, with a fast path for text that needs no decoding
    (no `%` or `+`: botocore's form bodies of most calls), where it is a plain split."""
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True)
    return [(name, value) for name, _, value in (p.partition("=") for p in text.split("&") if p)]


def read_query(model: ServiceModel, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
    fields = query_fields(request)
    action = fields.get("Action")
    if not action:
        raise MissingAction("The request must contain the parameter Action.")
    version = fields.get("Version") or "NO_VERSION_SPECIFIED"
    api_version = str(model.metadata["apiVersion"])
    if version != api_version or action not in model.operation_names:
        raise InvalidAction(f"Could not find operation {action} for version {version}")
    operation = model.operation_model(action)
    shape = operation.input_shape
    params = QueryForm(fields).decode(shape) if isinstance(shape, StructureShape) else {}
    return operation, params


# --- json -----------------------------------------------------------------------------------------


def read_json(model: ServiceModel, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
    target = request.headers.get("x-amz-target", "")
    prefix, _, name = target.rpartition(".")
    if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
        raise UnknownOperation(f"Unknown operation {target}" if target else "Missing X-Amz-Target header")
    operation = model.operation_model(name)
    try:
        document = load_json(request.body)
    except (ValueError, UnicodeDecodeError):
        raise SerializationException("Start of structure or map found where not expected.") from None
    if not isinstance(document, dict):
        raise SerializationException("Start of structure or map found where not expected.")
    shape = operation.input_shape
    params = json_value(shape, document, ()) if shape is not None else {}
    return operation, params


# --- rest-json / rest-xml -------------------------------------------------------------------------


def read_rest(
    plan: InputPlan,
    request: HttpRequest,
    route: RouteMatch,
    *,
    xml: bool,
    fixed_query: frozenset[str],
    bad_body: Callable[[str], AwsError],
) -> dict[str, Any]:
    """Decode every location of a rest request; `bad_body` is raised for an unreadable body."""
    params: dict[str, Any] = {}
    for name, shape, label in plan.uri:
        if label in route.labels:
            params[name] = scalar_from_text(shape, route.labels[label], (name,), timestamps.ISO8601)
    if plan.query or plan.query_map:
        pairs = request.query_pairs()
        multi: dict[str, list[str]] = {}
        for key, value in pairs:
            multi.setdefault(key, []).append(value)
        claimed = set(fixed_query)
        for name, shape, key in plan.query:
            if key not in multi:
                continue
            claimed.add(key)
            if isinstance(shape, ListShape):
                params[name] = [
                    scalar_from_text(shape.member, v, (name, i), timestamps.ISO8601)
                    for i, v in enumerate(multi[key])
                ]
            else:
                params[name] = scalar_from_text(shape, multi[key][0], (name,), timestamps.ISO8601)
        if plan.query_map is not None:
            map_name, map_shape = plan.query_map
            listed = isinstance(map_shape.value, ListShape)
            extra = {k: (v if listed else v[0]) for k, v in multi.items() if k not in claimed}
            if extra:
                params[map_name] = extra
    for name, shape, header in plan.header:
        if header in request.headers:
            params[name] = _header_value(shape, request.headers[header], name)
    for name, _map_shape, prefix in plan.header_maps:
        found = {k[len(prefix) :]: v for k, v in request.headers.raw if k.lower().startswith(prefix)}
        if found:
            params[name] = found
    if plan.payload is not None:
        payload_name, payload_shape = plan.payload
        if plan.streaming:
            if payload_shape.serialization.get("streaming") or payload_shape.metadata.get("streaming"):
                params[payload_name] = request.stream if request.stream is not None else request.body
            elif request.body:
                params[payload_name] = (
                    request.body if payload_shape.type_name == "blob" else _text(request.body, bad_body)
                )
        elif request.body.strip() and isinstance(payload_shape, StructureShape):
            params[payload_name] = _body(payload_shape, request.body, xml=xml, bad_body=bad_body, root=True)
    elif plan.body_members and plan.shape is not None and request.body.strip():
        params.update(_body(plan.shape, request.body, xml=xml, bad_body=bad_body, root=False))
    return params


def _text(body: bytes, bad_body: Callable[[str], AwsError]) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_body("The request body is not valid UTF-8.") from None


def _body(
    shape: StructureShape, body: bytes, *, xml: bool, bad_body: Callable[[str], AwsError], root: bool
) -> dict[str, Any]:
    if xml:
        try:
            element = parse_xml(body)
        except XmlError:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            ) from None
        expected = shape.serialization.get("name")
        if root and expected and local_name(element.tag) != expected:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        return xml_structure(shape, element, ())
    try:
        document = load_json(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_body("Could not parse request body into json: the body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise bad_body("Could not parse request body into json: expected a JSON object.")
    value = json_value(shape, document, ())
    return value if isinstance(value, dict) else {}


def _header_value(shape: Shape, text: str, name: str) -> Any:
    if isinstance(shape, ListShape):
        return [
            scalar_from_text(shape.member, item, (name, i), timestamps.RFC822)
            for i, item in enumerate(header_list(text))
        ]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except (ValueError, RecursionError):
            raise bad((name,), text, shape, "Member must be base64-encoded JSON") from None
    return scalar_from_text(shape, text, (name,), timestamps.RFC822)
