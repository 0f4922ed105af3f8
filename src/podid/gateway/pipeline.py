"""The request pipeline, declared in one place.

    detect service -> verify signature -> resolve principal -> parse -> authorize -> dispatch
    -> serialize -> audit

Every stage is a method below, called in that order by `Pipeline.handle`. Any `AwsError` raised by a
stage ends the request with that error, serialized in the protocol of the service addressed; any
other exception is a bug, logged with its stack trace and answered as `InternalFailure` 500 (the
client never sees the trace). The pipeline never imports an HTTP framework.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podid.clock import Clock
from podid.errors import AwsError, ClientError, InternalFailure
from podid.gateway.audit import AuditLog
from podid.gateway.detect import SIGNING_NAMES, service_from_shape
from podid.services.base import AuthzCheck, Call, OperationSpec, Params, Principal, Provider
from podid.wire.http import HttpRequest, HttpResponse
from podid.wire.protocol import ServiceWire
from podid.wire.sigv4 import (
    CredentialLookup,
    CredentialScope,
    SigV4Failure,
    VerifiedRequest,
    credential_scope,
    error_for,
    verify_request,
)

log = logging.getLogger(__name__)

Authorize = Callable[[Call, Sequence[AuthzCheck]], None]

# Operations AWS serves without a signature.
UNSIGNED_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {("sts", "AssumeRoleWithWebIdentity"), ("sts", "AssumeRoleWithSAML")}
)

ANONYMOUS = Principal(kind="anonymous", arn="anonymous", account="", user_id="anonymous", name="anonymous")


@dataclass
class ServiceEntry:
    """One served AWS service: its wire (from the botocore model) and its provider."""

    wire: ServiceWire
    provider: Provider
    operations: dict[str, OperationSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.operations:
            self.operations = self.provider.operations()

    @property
    def protocol(self) -> str:
        return str(self.wire.service_model.metadata["protocol"])


@dataclass
class Exchange:
    """What the pipeline learns about one request as it goes (for the audit record)."""

    request_id: str
    started: float
    service: str = ""
    operation: str = ""
    principal: Principal = ANONYMOUS
    region: str = ""
    call: Call | None = None
    error: AwsError | None = None


class NotImplementedOperation(AwsError):
    """An operation in the AWS model that podid does not serve (yet)."""

    code = "NotImplemented"
    status = 501


class Pipeline:
    """The AWS endpoint's request path, independent of any HTTP framework."""

    def __init__(
        self,
        services: Mapping[str, ServiceEntry],
        lookup: CredentialLookup,
        authorize: Authorize,
        clock: Clock,
        audit: AuditLog,
        *,
        default_region: str,
        endpoint_hosts: Sequence[str] = ("localhost",),
    ) -> None:
        self.services = dict(services)
        self.lookup = lookup
        self.authorize_checks = authorize
        self.clock = clock
        self.audit = audit
        self.default_region = default_region
        self.endpoint_hosts = tuple(endpoint_hosts)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        ex = Exchange(request_id=request_id(), started=time.perf_counter())
        entry: ServiceEntry | None = None
        operation: Any = None
        try:
            scope = credential_scope(request)  # read once: detect and verify both need it
            ex.service = self.detect(request, scope)
            entry = self.services.get(ex.service)
            if entry is None:
                raise ClientError(
                    f"podid does not serve the service '{ex.service}'.", code="UnknownService", status=400
                )
            verified = self.verify(request, ex, entry, scope)
            principal = self.resolve(verified)
            ex.principal = principal
            parsed = entry.wire.parse(request, bucket_from_host=self.bucket_from_host(request, ex.service))
            operation = parsed.operation
            ex.operation = operation.name
            spec = entry.operations.get(ex.operation)
            if spec is None:
                raise NotImplementedOperation(
                    f"podid does not implement {ex.service}:{ex.operation}; see docs/operations.md."
                )
            if verified is None and not self._may_be_unsigned(ex.service, ex.operation):
                raise self._missing_auth(entry)
            call = ex.call = self.call_for(request, ex, principal, verified)
            self.authorize(spec, call, parsed.params, ex)
            result = await entry.provider.dispatch(spec, call, parsed.params)
            response = entry.wire.serialize(operation, result, ex.request_id)
        except AwsError as err:
            ex.error = err
            response = self._error_response(entry, ex, err, operation)
        except RecursionError:
            # Only client input nests deeply enough (a JSON or YAML document read recursively); the
            # readers refuse deep documents in their own words, this is the net under all of them.
            log.warning(
                "input nested too deeply on %s %s (request %s)", request.method, request.path, ex.request_id
            )
            code = entry.wire.validation_code if entry is not None else "ValidationError"
            nested = ClientError("The request input is nested too deeply.", code=code)
            ex.error = nested
            response = self._error_response(entry, ex, nested, operation)
        except Exception:
            log.exception("internal error on %s %s (request %s)", request.method, request.path, ex.request_id)
            failure = InternalFailure("We encountered an internal error. Please try again.")
            ex.error = failure
            response = self._error_response(entry, ex, failure, operation)
        self.record(ex, request, response)
        return response

    def refuse(self, request: HttpRequest, error: AwsError) -> HttpResponse:
        """Answer `error` to a request that cannot go through the stages (its body was unreadable),
        in the protocol of the service it addresses, and audit it."""
        ex = Exchange(request_id=request_id(), started=time.perf_counter(), error=error)
        ex.service = self.detect(request, credential_scope(request))
        response = self._error_response(self.services.get(ex.service), ex, error, None)
        self.record(ex, request, response)
        return response

    # stage 1
    def detect(self, request: HttpRequest, scope: CredentialScope | None) -> str:
        if scope is not None:
            return SIGNING_NAMES.get(scope.service, scope.service)
        return service_from_shape(request)

    # stage 2
    def verify(
        self, request: HttpRequest, ex: Exchange, entry: ServiceEntry, scope: CredentialScope | None
    ) -> VerifiedRequest | None:
        """Check the signature; None for an unsigned request (refused later unless allowed)."""
        if scope is None:
            if "authorization" in request.headers:
                # An Authorization header that is not SigV4 at all.
                return self._verify(request, ex, entry)
            return None
        return self._verify(request, ex, entry)

    def _verify(self, request: HttpRequest, ex: Exchange, entry: ServiceEntry) -> VerifiedRequest:
        try:
            verified = verify_request(
                request, self.lookup, self.clock.now(), service=ex.service, s3=ex.service == "s3"
            )
        except SigV4Failure as failure:
            raise error_for(failure, entry.protocol) from None
        ex.region = verified.scope.region
        return verified

    # stage 3
    def resolve(self, verified: VerifiedRequest | None) -> Principal:
        if verified is None:
            return ANONYMOUS
        principal = verified.credential.principal
        if not isinstance(principal, Principal):
            raise InternalFailure("credential lookup returned no principal")
        return principal

    # stage 5
    def authorize(self, spec: OperationSpec, call: Call, params: Params, ex: Exchange) -> None:
        if spec.authz is None:
            return
        self.authorize_checks(call, spec.authz(call, params))

    def call_for(
        self, request: HttpRequest, ex: Exchange, principal: Principal, verified: VerifiedRequest | None
    ) -> Call:
        return Call(
            request_id=ex.request_id,
            service=ex.service,
            operation=ex.operation,
            region=ex.region or self.default_region,
            principal=principal,
            now=self.clock.now(),
            source_ip=request.remote,
            secure_transport=request.scheme == "https",
            user_agent=request.headers.get("user-agent", ""),
            host=request.host,
            request=request,
            signature=verified,
        )

    def bucket_from_host(self, request: HttpRequest, service: str) -> str | None:
        """The bucket of a virtual-hosted-style S3 request (`bucket.localhost:4566`), else None."""
        if service != "s3":
            return None
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        for known in self.endpoint_hosts:
            suffix = "." + known
            if host.endswith(suffix) and len(host) > len(suffix):
                return host[: -len(suffix)]
        return None

    @staticmethod
    def _may_be_unsigned(service: str, operation: str) -> bool:
        """AssumeRoleWithWebIdentity/SAML are unsigned by design; an unsigned S3 request is the
        anonymous principal, which only a bucket policy granting `*` can allow (as on AWS)."""
        return service == "s3" or (service, operation) in UNSIGNED_OPERATIONS

    def _missing_auth(self, entry: ServiceEntry) -> AwsError:
        failure = SigV4Failure("missing-auth", "Request is missing Authentication Token")
        return error_for(failure, entry.protocol)

    def _error_response(
        self, entry: ServiceEntry | None, ex: Exchange, err: AwsError, operation: Any
    ) -> HttpResponse:
        if entry is None:
            entry = self.services.get("sts") or next(iter(self.services.values()))
        else:
            err = entry.provider.translate_error(err)
            ex.error = err
        return entry.wire.serialize_error(err, ex.request_id, operation)

    # stage 8
    def record(self, ex: Exchange, request: HttpRequest, response: HttpResponse) -> None:
        trace = ex.call.trace if ex.call is not None else ()
        event: dict[str, Any] = {
            "eventTime": _event_time(self.clock.now()),
            "requestId": ex.request_id,
            "eventSource": f"{ex.service}.amazonaws.com" if ex.service else "",
            "eventName": ex.operation,
            "awsRegion": ex.region or self.default_region,
            "sourceIPAddress": request.remote,
            "userAgent": request.headers.get("user-agent", ""),
            "userIdentity": {
                "type": _IDENTITY_TYPES[ex.principal.kind],
                "arn": ex.principal.arn,
                "accountId": ex.principal.account,
                "accessKeyId": ex.principal.access_key_id,
            },
            "actions": [{"action": c.action, "resource": c.resource} for c in trace],
            "decision": "Denied" if ex.error is not None and ex.error.status == 403 else "Allowed",
            "httpStatus": response.status,
            "durationMs": round((time.perf_counter() - ex.started) * 1000, 3),
        }
        if ex.error is not None:
            event["errorCode"] = ex.error.code
            event["errorMessage"] = ex.error.message
            if ex.error.code.startswith("AccessDenied"):
                event["decision"] = "Denied"
        self.audit.record(event)


_IDENTITY_TYPES: Mapping[str, str] = {
    "root": "Root",
    "user": "IAMUser",
    "role-session": "AssumedRole",
    "service": "AWSService",
    "anonymous": "Anonymous",
}

# hex digit of a random byte -> the RFC 4122 variant digit (binary 10xx)
_VARIANT_DIGIT = {f"{i:x}": f"{8 | (i & 3):x}" for i in range(16)}


def request_id() -> str:
    """A random (version 4) UUID in its text form, as AWS request ids are.

    Equivalent to `str(uuid.uuid4())` at a third of the cost (it is paid on every request).
    """
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"


def _event_time(now: datetime) -> str:
    """`now` as CloudTrail's `eventTime` (`2024-01-02T03:04:05Z`), cheaper than `strftime`."""
    return f"{now.year:04d}-{now.month:02d}-{now.day:02d}T{now.hour:02d}:{now.minute:02d}:{now.second:02d}Z"
