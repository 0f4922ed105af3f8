"""`CredentialResolver`: access key (+ session token) -> signing secret and principal, for SigV4.

Long-term keys (`AKIA...`) are read from IAM's store: unknown or `Inactive` keys, and keys whose user
is gone, are refused as AWS does (`InvalidClientTokenId`, "The security token included in the request
is invalid."). Temporary keys (`ASIA...`) need their session token, which is decrypted, never looked
up: a token that fails authentication or belongs to another key id is `bad-token`, an expired one
`expired-token` ("The security token included in the request is expired"), a missing one
`missing-token`.
"""

from __future__ import annotations

from podid.services.base import Principal
from podid.services.iam.domain import IamDomain
from podid.services.sts.domain import StsDomain, session_principal
from podid.services.sts.token import TokenInvalid
from podid.wire.sigv4 import SigningCredential, SigV4Failure

INVALID = "The security token included in the request is invalid."
EXPIRED = "The security token included in the request is expired"


class CredentialResolver:
    """Implements `podid.wire.sigv4.CredentialLookup` over the IAM and STS domains."""

    def __init__(self, iam: IamDomain, sts: StsDomain) -> None:
        self.iam = iam
        self.sts = sts

    def __call__(self, access_key_id: str, session_token: str | None) -> SigningCredential:
        if access_key_id.startswith("ASIA"):
            return self._temporary(access_key_id, session_token)
        if session_token is not None:
            raise SigV4Failure("bad-token", INVALID)
        key = self.iam.access_key(access_key_id)
        if key is None or key.status != "Active":
            raise SigV4Failure("unknown-key", INVALID)
        user = self.iam.find_user(key.account, key.user_name)
        if user is None:
            raise SigV4Failure("unknown-key", INVALID)
        principal = Principal(
            kind="user",
            arn=user.arn,
            account=user.account,
            user_id=user.user_id,
            name=user.name,
            access_key_id=access_key_id,
        )
        return SigningCredential(access_key_id, key.secret, None, principal)

    def _temporary(self, access_key_id: str, session_token: str | None) -> SigningCredential:
        if not session_token:
            raise SigV4Failure("missing-token", INVALID)
        try:
            decoded = self.sts.decode_token(session_token)
        except TokenInvalid:
            raise SigV4Failure("bad-token", INVALID) from None
        if decoded.access_key_id != access_key_id:
            raise SigV4Failure("bad-token", INVALID)
        if self.sts.clock.now() >= decoded.session.expiration:
            raise SigV4Failure("expired-token", EXPIRED)
        principal = session_principal(decoded)
        return SigningCredential(access_key_id, decoded.secret_access_key, session_token, principal)
