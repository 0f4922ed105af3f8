"""The wire layer's entry point: one `ServiceWire` per AWS service, driven by botocore's model.

```python
wire = ServiceWire.for_service("iam")
parsed = wire.parse(request)                      # -> ParsedRequest(operation, params)
response = wire.serialize(parsed.operation, result, request_id)
response = wire.serialize_error(error, request_id, operation)
```

The protocol (`query`, `json`, `rest-json`, `rest-xml`) comes from the model's `metadata.protocol`;
nothing here is per operation, so adding an operation to a service needs only its provider method.
After decoding, the params are validated against the model's constraints, and every failure is
reported at once in the service's validation error (see `podid.wire.validate`):

| service                   | error                          |
| ------------------------- | ------------------------------ |
| iam, sts, cloudformation  | `ValidationError` 400          |
| eks, eks-auth             | `InvalidParameterException` 400 (our choice of message: Coral's) |
| s3                        | `InvalidArgument` 400          |
| other query services      | `ValidationError` 400          |
| other json/rest services  | `ValidationException` 400      |

Routing failures: query without `Action` -> `MissingAction` 400; unknown action or wrong
`Version` -> `InvalidAction` 400 "Could not find operation X for version V" (V is
`NO_VERSION_SPECIFIED` when absent, as AWS says); json unknown target -> `UnknownOperationException`
400; rest-json no template -> `UnknownOperationException` 404; S3: the path exists for another method
-> `MethodNotAllowed` 405, otherwise `NotImplemented` 501.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.loaders
from botocore.model import OperationModel, ServiceModel

from podid.errors import AwsError
from podid.wire import inbound, outbound
from podid.wire.decode import BadValue
from podid.wire.faults import MethodNotAllowed, NotImplementedS3, UnknownOperation, error_response
from podid.wire.http import HttpRequest, HttpResponse
from podid.wire.routing import NoRoute, RestRouter, query_dict
from podid.wire.validate import ModelValidationError, ValidationFailure, Validator

_VALIDATION_CODES: Mapping[str, str] = {
    "iam": "ValidationError",
    "sts": "ValidationError",
    "cloudformation": "ValidationError",
    "eks": "InvalidParameterException",
    "eks-auth": "InvalidParameterException",
    "s3": "InvalidArgument",
}


@dataclass(frozen=True)
class ParsedRequest:
    """An operation of the service's model and its input, shaped like botocore's input shape."""

    operation: OperationModel
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.operation.name)


class ServiceWire:
    """Parser, validator and serializer of one service, built once from its botocore model."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        self.service_name: str = service_model.service_name
        self.protocol: str = service_model.protocol
        meta = service_model.metadata
        self.xml_namespace: str = str(meta.get("xmlNamespace", ""))
        self.json_version: str = str(meta.get("jsonVersion", "1.0"))
        self.is_s3 = self.service_name == "s3"
        default_code = "ValidationError" if self.protocol == "query" else "ValidationException"
        self.validation_code: str = _VALIDATION_CODES.get(self.service_name, default_code)
        self._validator = Validator()
        self._router = RestRouter(service_model) if self.protocol.startswith("rest-") else None
        self._plans: dict[str, inbound.InputPlan] = {}
        self._fixed_query: dict[str, frozenset[str]] = {}

    @classmethod
    def for_service(cls, name: str) -> ServiceWire:
        """The wire of a botocore service name (`iam`, `sts`, `eks`, `eks-auth`, `s3`, ...), cached."""
        return _load(name)

    # --- requests ---------------------------------------------------------------------------------

    def parse(self, request: HttpRequest, *, bucket_from_host: str | None = None) -> ParsedRequest:
        """Find the operation and decode and validate its input; raises `AwsError` subclasses."""
        try:
            if self.protocol == "query":
                operation, params = inbound.read_query(self.service_model, request)
            elif self.protocol == "json":
                operation, params = inbound.read_json(self.service_model, request)
            else:
                operation, params = self._read_rest(request, bucket_from_host)
        except BadValue as exc:
            raise self.validation_error([exc.failure]) from None
        failures = self._validator.validate(operation.input_shape, params)
        if failures:
            raise self.validation_error(failures)
        return ParsedRequest(operation, params)

    def validation_error(self, failures: list[ValidationFailure]) -> ModelValidationError:
        return ModelValidationError(failures, code=self.validation_code)

    def _read_rest(self, request: HttpRequest, bucket: str | None) -> tuple[OperationModel, dict[str, Any]]:
        assert self._router is not None
        path = request.path or "/"
        try:
            query = query_dict(request.query)
            route = self._router.match(request.method, path, query, request.headers, bucket)
        except NoRoute as exc:
            raise self._no_route(request, exc.path_known) from None
        operation = route.operation
        plan = self._plan(operation)
        params = inbound.read_rest(
            plan,
            request,
            route,
            xml=self.protocol == "rest-xml",
            fixed_query=self._fixed_query[operation.name],
            bad_body=self._bad_body,
        )
        return operation, params

    def _bad_body(self, message: str) -> AwsError:
        return AwsError(message, code=self.validation_code, status=400)

    def _plan(self, operation: OperationModel) -> inbound.InputPlan:
        plan = self._plans.get(operation.name)
        if plan is None:
            plan = inbound.InputPlan.build(operation)
            self._plans[operation.name] = plan
            fixed = str(operation.http.get("requestUri", "")).partition("?")[2]
            self._fixed_query[operation.name] = frozenset(p.partition("=")[0] for p in fixed.split("&") if p)
        return plan

    def _no_route(self, request: HttpRequest, path_known: bool) -> AwsError:
        if self.is_s3:
            if path_known:
                return MethodNotAllowed(
                    "The specified method is not allowed against this resource.",
                    fields={"Method": request.method.upper(), "ResourceType": "OBJECT"},
                )
            return NotImplementedS3("A header you provided implies functionality that is not implemented.")
        return UnknownOperation(f"No operation matches {request.method.upper()} {request.path}", status=404)

    # --- responses --------------------------------------------------------------------------------

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any] | None, request_id: str
    ) -> HttpResponse:
        """The success response of `operation` carrying `result` (shaped like its output shape)."""
        data = result or {}
        if self.protocol == "query":
            return outbound.query_response(operation, data, request_id, self.xml_namespace)
        if self.protocol == "json":
            return outbound.json_response(operation, data, request_id, self.json_version)
        return outbound.rest_response(
            operation, data, request_id, xml=self.protocol == "rest-xml", s3=self.is_s3
        )

    def serialize_error(
        self, error: AwsError, request_id: str, operation: OperationModel | None = None
    ) -> HttpResponse:
        """The one place where an `AwsError` becomes a response, in this service's protocol."""
        return error_response(
            self.protocol,
            error,
            request_id,
            xml_namespace=self.xml_namespace,
            json_version=self.json_version,
            operation=operation,
        )


@functools.cache
def _load(name: str) -> ServiceWire:
    # One loader per call is fine: the result is cached for the life of the process, and models are
    # read-only once built.
    loader = botocore.loaders.Loader()
    data = loader.load_service_model(name, "service-2")
    return ServiceWire(ServiceModel(data, service_name=name))
