"""IAM's error shapes (botocore `iam` 2010-05-08), each an `AwsError` subclass.

Status codes and codes are those of the model's error shapes (`awsQueryError`).
"""

from __future__ import annotations

from typing import ClassVar

from podid.errors import ClientError


class NoSuchEntity(ClientError):
    code: ClassVar[str] = "NoSuchEntity"
    status: ClassVar[int] = 404


class EntityAlreadyExists(ClientError):
    code: ClassVar[str] = "EntityAlreadyExists"
    status: ClassVar[int] = 409


class DeleteConflict(ClientError):
    code: ClassVar[str] = "DeleteConflict"
    status: ClassVar[int] = 409


class LimitExceeded(ClientError):
    code: ClassVar[str] = "LimitExceeded"
    status: ClassVar[int] = 409


class InvalidInput(ClientError):
    code: ClassVar[str] = "InvalidInput"
    status: ClassVar[int] = 400
