"""STS: the domain (`StsDomain`: AssumeRole, GetCallerIdentity, session tokens) and its provider."""

from podid.services.sts.domain import AssumedRole, AssumeRoleRequest, Authorize, StsDomain, session_principal
from podid.services.sts.provider import StsProvider
from podid.services.sts.token import SessionToken, StsSession, TokenInvalid

__all__ = [
    "AssumeRoleRequest",
    "AssumedRole",
    "Authorize",
    "SessionToken",
    "StsDomain",
    "StsProvider",
    "StsSession",
    "TokenInvalid",
    "session_principal",
]
