"""The agent's vocabulary: a credential request, the credentials served, the retriever interface and
the errors, each of which knows the status and body the real agent would answer with.

Error bodies follow the real agent's `HandleCredentialFetchingError` (reference §3.3):

- validation errors (`RequestValidationError` 400, `AccessDeniedError` 403): their own text;
- an error answer from EKS Auth (`UpstreamError`, an `AwsError`): EKS Auth's HTTP status passed
  through, body `[<request id>]: (<Code>): <message>, fault: <client|server|unknown>`;
- anything without an HTTP answer (connection refused, timeout, invalid response): `FetchError`, 500,
  the error's text.

`is_irrecoverable` is the one switch that decides whether the cache drops an entry on a failed
renewal (reference §3.4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import ClassVar, Protocol

from podid.errors import AwsError

# EKS Auth error codes the cache treats as final for a token (the real agent's list).
IRRECOVERABLE_CODES = frozenset(
    {"AccessDeniedException", "ExpiredTokenException", "InvalidTokenException", "ResourceNotFoundException"}
)

# Modeled EKS Auth exceptions and their smithy fault (unmodeled codes have fault "unknown").
MODELED_FAULTS = {
    "AccessDeniedException": "client",
    "ExpiredTokenException": "client",
    "InvalidParameterException": "client",
    "InvalidRequestException": "client",
    "InvalidTokenException": "client",
    "ResourceNotFoundException": "client",
    "ThrottlingException": "client",
    "InternalServerException": "server",
    "ServiceUnavailableException": "server",
}


@dataclass(frozen=True)
class CredentialRequest:
    """One pod's request: the cluster and the raw projected token (the cache key)."""

    cluster_name: str
    token: str
    pod_uid: str | None = None
    token_expires_at: int | None = None  # epoch seconds, from the unverified token


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials as EKS Auth returned them; `expiration` is UTC, millisecond precision."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    account_id: str
    expiration: datetime
    association_id: str = ""

    def remaining(self, now: datetime) -> float:
        return (self.expiration - now).total_seconds()

    @cached_property
    def body(self) -> bytes:
        """`to_json()`, computed once (credentials are immutable)."""
        return self.to_json()

    def to_json(self) -> bytes:
        """The agent's compact body, fields in the Go struct's order, empty strings omitted."""
        fields = (
            ("AccessKeyId", self.access_key_id),
            ("SecretAccessKey", self.secret_access_key),
            ("Token", self.session_token),
            ("AccountId", self.account_id),
            ("Expiration", go_rfc3339nano(self.expiration)),
        )
        body = json.dumps({k: v for k, v in fields if v}, separators=(",", ":"), ensure_ascii=False)
        # encoding/json escapes these for HTML safety.
        for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            body = body.replace(raw, esc)
        body = body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return body.encode()


def go_rfc3339nano(when: datetime) -> str:
    """Go's `time.RFC3339Nano` for a UTC time: fractional seconds with trailing zeros trimmed."""
    when = when.astimezone(UTC)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        base += "." + f"{when.microsecond:06d}".rstrip("0")
    return base + "Z"


def epoch_seconds_to_utc(value: float) -> datetime:
    """smithy-go's `ParseEpochSeconds`: milliseconds, truncated toward zero, in UTC."""
    millis = int(value * 1000.0)
    return datetime.fromtimestamp(millis // 1000, tz=UTC).replace(microsecond=(millis % 1000) * 1000)


class AgentHttpError(Exception):
    """An error the agent answers with `status` and `body_text` (Go `http.Error` adds the newline)."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def http_status(self) -> int:
        return self.status

    def body_text(self) -> str:
        return self.message


class RequestValidationError(AgentHttpError):
    status: ClassVar[int] = 400


class AccessDeniedError(AgentHttpError):
    status: ClassVar[int] = 403

    def body_text(self) -> str:
        return f"Access Denied. {self.message}"


class FetchError(AgentHttpError):
    """No usable HTTP answer from EKS Auth (dial error, timeout, bad response), or stale credentials."""

    status: ClassVar[int] = 500


class UpstreamError(AwsError):
    """An error answer from EKS Auth, with the request id it carried."""

    def __init__(self, code: str, message: str, status: int, request_id: str) -> None:
        super().__init__(message, code=code, status=status, sender_fault=status < 500)
        self.request_id = request_id

    @property
    def fault(self) -> str:
        return MODELED_FAULTS.get(self.code, "unknown")

    def body_text(self) -> str:
        return f"[{self.request_id}]: ({self.code}): {self.message}, fault: {self.fault}"


def error_status_and_body(error: Exception) -> tuple[int, str]:
    """The real agent's `HandleCredentialFetchingError`: status and body text (without newline)."""
    if isinstance(error, AgentHttpError):
        return error.http_status, error.body_text()
    if isinstance(error, UpstreamError):
        return error.status, error.body_text()
    return 500, str(error)


def is_irrecoverable(error: BaseException) -> str | None:
    """The EKS Auth code if `error` means the token will never work again (the cache evicts), else None."""
    if isinstance(error, UpstreamError) and error.code in IRRECOVERABLE_CODES:
        return error.code
    return None


def error_code(error: BaseException) -> str:
    """The metric label for a failed renewal: the EKS Auth code, or `Unknown`."""
    return error.code if isinstance(error, UpstreamError) else "Unknown"


class CredentialRetriever(Protocol):
    """Anything that turns a request into credentials: the EKS Auth client, the cache around it."""

    async def get_credentials(self, request: CredentialRequest) -> Credentials: ...
