"""EKS Auth's error shapes (botocore `eks-auth` 2023-11-26): body `{"message": ...}`.

`AccessDeniedException` is 400 in the model (not 403), and that is what podid sends.
"""

from __future__ import annotations

from typing import ClassVar

from podid.errors import ClientError


class InvalidTokenException(ClientError):
    code: ClassVar[str] = "InvalidTokenException"


class ExpiredTokenException(ClientError):
    code: ClassVar[str] = "ExpiredTokenException"


class AccessDeniedException(ClientError):
    code: ClassVar[str] = "AccessDeniedException"
    status: ClassVar[int] = 400


class ResourceNotFoundException(ClientError):
    code: ClassVar[str] = "ResourceNotFoundException"
    status: ClassVar[int] = 404


class InvalidParameterException(ClientError):
    code: ClassVar[str] = "InvalidParameterException"


class InvalidRequestException(ClientError):
    code: ClassVar[str] = "InvalidRequestException"
