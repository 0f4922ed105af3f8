"""EKS's error shapes (rest-json; body `{"message": ...}` plus the shape's extra members)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from podid.errors import ClientError


class EksError(ClientError):
    """An EKS client error; keyword arguments become members of the error shape."""

    def __init__(self, message: str, **members: str | None) -> None:
        fields: Mapping[str, Any] = {k: v for k, v in members.items() if v is not None}
        super().__init__(message, fields=fields)


class ResourceNotFoundException(EksError):
    code: ClassVar[str] = "ResourceNotFoundException"
    status: ClassVar[int] = 404


class InvalidParameterException(EksError):
    code: ClassVar[str] = "InvalidParameterException"


class InvalidRequestException(EksError):
    code: ClassVar[str] = "InvalidRequestException"


class ResourceInUseException(EksError):
    code: ClassVar[str] = "ResourceInUseException"
    status: ClassVar[int] = 409


class ResourceLimitExceededException(EksError):
    code: ClassVar[str] = "ResourceLimitExceededException"


class BadRequestException(EksError):
    """Tag operations: a malformed ARN or tag set."""

    code: ClassVar[str] = "BadRequestException"


class NotFoundException(EksError):
    """Tag operations: the resource ARN names nothing."""

    code: ClassVar[str] = "NotFoundException"
    status: ClassVar[int] = 404
