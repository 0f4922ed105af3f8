"""The one error model: every AWS error that podid sends is an `AwsError`.

A service raises an `AwsError` (or a subclass naming one error shape of its model); the gateway turns
it into a wire response in exactly one place (`podid.wire`), in the protocol of the service addressed.
Foreign exceptions are translated only at the boundary; anything else that escapes is a bug and is
answered as `InternalFailure` 500 without a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class AwsError(Exception):
    """An error the real AWS service would send.

    `code` is the error code as it appears on the wire (`NoSuchEntity`, `AccessDenied`, ...), `status`
    the HTTP status, `sender_fault` whether the client is to blame (the query protocol's
    `<Type>Sender</Type>`), `fields` extra members of the error shape (EKS's `clusterName`, S3's
    `BucketName`, ...), `headers` extra response headers.
    """

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    sender_fault: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        sender_fault: bool | None = None,
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        if status is not None:
            self.status = status  # type: ignore[misc]
        if sender_fault is not None:
            self.sender_fault = sender_fault  # type: ignore[misc]
        elif status is not None:
            self.sender_fault = status < 500  # type: ignore[misc]
        self.fields: dict[str, Any] = dict(fields or {})
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"


class ClientError(AwsError):
    """A 4xx error whose code is given at the raise site."""

    status: ClassVar[int] = 400
    sender_fault: ClassVar[bool] = True


class InternalFailure(AwsError):
    """An unexpected server-side failure (never caused by client input)."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500


class ValidationError(ClientError):
    """Input that breaks the model's constraints (IAM, STS, CloudFormation)."""

    code: ClassVar[str] = "ValidationError"


class AccessDenied(ClientError):
    """An authorization refusal in the query/rest-xml form (IAM, STS, S3)."""

    code: ClassVar[str] = "AccessDenied"
    status: ClassVar[int] = 403
