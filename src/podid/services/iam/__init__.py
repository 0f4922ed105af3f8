"""IAM: the domain (`IamDomain`), its wire provider (`IamProvider`) and the shipped managed policies."""

from podid.services.iam.domain import IamDomain
from podid.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from podid.services.iam.model import AccessKey, CustomerPolicy, Role, User
from podid.services.iam.provider import IamProvider

__all__ = [
    "AccessKey",
    "CustomerPolicy",
    "DeleteConflict",
    "EntityAlreadyExists",
    "IamDomain",
    "IamProvider",
    "InvalidInput",
    "LimitExceeded",
    "NoSuchEntity",
    "Role",
    "User",
]
