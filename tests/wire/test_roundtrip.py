"""Every operation of iam, sts, eks, eks-auth, s3 and cloudformation round-trips through botocore:
botocore serializes generated input that `wire.parse` must read back exactly, and botocore's parser
must read back exactly the generated output that `wire.serialize` writes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import OperationModel

from podid.wire.protocol import ServiceWire
from podid.wire.validate import ModelValidationError
from tests.wire.roundtrip import botocore_parse, botocore_request, normalise
from tests.wire.shape_examples import ExampleGenerator, Unfillable

SERVICES = ("iam", "sts", "eks", "eks-auth", "s3", "cloudformation")


def _cases() -> list[Any]:
    cases = []
    for service in SERVICES:
        wire = ServiceWire.for_service(service)
        for name in wire.service_model.operation_names:
            cases.append(pytest.param(service, name, id=f"{service}-{name}"))
    return cases


CASES = _cases()

# Responses podid cannot write generically: event streams (S3 SelectObjectContent), and the deprecated
# GetBucketNotification, whose model serializes two members (`Events` flattened, `Event`) under the
# same element name, so no XML writer can round-trip both when both are set (share=1).
_NO_RESPONSE_ROUND_TRIP = frozenset({("s3", "SelectObjectContent", 3), ("s3", "SelectObjectContent", 1)})
_AMBIGUOUS_OUTPUT = frozenset({("s3", "GetBucketNotification", 1)})


def _example(operation: OperationModel, which: str, **kwargs: Any) -> dict[str, Any]:
    shape = operation.input_shape if which == "input" else operation.output_shape
    if shape is None:
        return {}
    try:
        return ExampleGenerator(**kwargs).structure(shape)
    except Unfillable as exc:  # pragma: no cover - shows which model pattern defeats the generator
        pytest.fail(f"example generator cannot fill {exc}")


_SHARED_ROUTES = frozenset(
    {
        "GetBucketLifecycle",
        "PutBucketLifecycle",
        "GetBucketNotification",
        "PutBucketNotification",
        "ListDirectoryBuckets",
    }
)


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v != {}}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def _same_route(a: OperationModel, b: OperationModel) -> bool:
    same: bool = (a.http["method"], a.http["requestUri"]) == (b.http["method"], b.http["requestUri"])
    return same


@pytest.mark.parametrize(("service", "name"), CASES)
@pytest.mark.parametrize("share", [3, 1])
def test_request_round_trip(service: str, name: str, share: int) -> None:
    wire = ServiceWire.for_service(service)
    operation = wire.service_model.operation_model(name)
    params = _example(operation, "input", share=share)
    request = botocore_request(operation, params)
    if name in _SHARED_ROUTES and operation.deprecated:
        # The current operation owns the route; the old body may not satisfy its shape.
        try:
            parsed = wire.parse(request)
        except ModelValidationError:
            return
    else:
        parsed = wire.parse(request)
    if parsed.operation.name != name:
        # S3 operations that share one route (a deprecated one and its replacement, ListBuckets and
        # ListDirectoryBuckets) cannot be told apart; the current/first one wins.
        assert _same_route(operation, parsed.operation)
        assert name in _SHARED_ROUTES
        return
    got = normalise(operation.input_shape, parsed.params)
    expected = normalise(operation.input_shape, params)
    if wire.protocol == "query":
        expected = _drop_empty(expected)  # the query protocol cannot carry an empty structure
    shape = operation.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    if payload and shape is not None and shape.members[payload].type_name == "blob" and payload not in params:
        expected[payload] = b""  # a streaming payload is always handed over, empty if absent
    if (
        service == "s3"
        and "ContentLength" not in params
        and got.get("ContentLength") == len(got.get("Body", b""))
    ):
        got.pop("ContentLength")  # the HTTP layer adds Content-Length to every request with a body
    assert got == expected


@pytest.mark.parametrize(("service", "name"), CASES)
@pytest.mark.parametrize("share", [3, 1])
def test_response_round_trip(service: str, name: str, share: int) -> None:
    if (service, name, share) in _NO_RESPONSE_ROUND_TRIP | _AMBIGUOUS_OUTPUT:
        assert service == "s3"  # documented exclusions, see above
        return
    wire = ServiceWire.for_service(service)
    operation = wire.service_model.operation_model(name)
    result = _example(operation, "output", share=share)
    response = wire.serialize(operation, result, "req-1234")
    assert response.status < 300
    parsed = botocore_parse(operation, response)
    metadata = parsed.pop("ResponseMetadata")
    assert metadata["RequestId"] == "req-1234"
    shape = operation.output_shape
    expected = normalise(shape, result)
    got = normalise(shape, parsed)
    if shape is not None and (payload := shape.serialization.get("payload")):
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            # botocore hands a raw payload back as text or bytes depending on how it arrived.
            for side in (got, expected):
                if isinstance(side.get(payload), str):
                    side[payload] = side[payload].encode()
            if payload not in expected and got.get(payload) == b"":
                got.pop(payload)  # botocore reads an absent raw payload as b""
    if shape is not None:
        for member_name, member in shape.members.items():
            headers_map = member.serialization.get("location") == "headers"
            if headers_map and got.get(member_name) == {} and member_name not in expected:
                got.pop(member_name)  # botocore always reads a header map, empty if none
    payload = shape.serialization.get("payload") if shape is not None else None
    if payload and got.get(payload) == {} and payload not in expected:
        got.pop(payload)  # botocore reads an absent structure payload as {}
    assert got == expected


S3_BUCKET_CASES = [
    pytest.param(name, id=name)
    for name in ServiceWire.for_service("s3").service_model.operation_names
    if str(ServiceWire.for_service("s3").service_model.operation_model(name).http["requestUri"]).startswith(
        "/{Bucket}"
    )
]


@pytest.mark.parametrize("name", S3_BUCKET_CASES)
def test_s3_virtual_hosted_request(name: str) -> None:
    """The gateway strips the bucket from the Host; the path is then the key only."""
    wire = ServiceWire.for_service("s3")
    operation = wire.service_model.operation_model(name)
    params = _example(operation, "input", share=1)
    params["Bucket"] = "my-bucket"
    request = botocore_request(operation, params)
    assert request.path.startswith("/my-bucket")
    request.path = request.path[len("/my-bucket") :] or "/"
    if name in _SHARED_ROUTES and operation.deprecated:
        return  # covered by test_request_round_trip
    parsed = wire.parse(request, bucket_from_host="my-bucket")
    assert _same_route(operation, parsed.operation)
    assert parsed.params["Bucket"] == "my-bucket"
    if parsed.operation.name == name and "Key" in params:
        assert parsed.params["Key"] == params["Key"]
