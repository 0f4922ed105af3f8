"""AssumeRoleWithWebIdentity: an OIDC ID token (an IRSA projected token) exchanged for role credentials.

The request is unsigned (the gateway lets it through as the anonymous principal); the token is the
only proof. Checks, in this order (IRSA reference §2.3; AWS documents the errors, not their order,
so the order is podid's reading of the evidence):

1. `ProviderId` is for OAuth 2.0 providers (Amazon, Facebook), which podid does not serve:
   `InvalidParameterValue`.
2. The token parses as a JWS (three base64url segments, JSON header and claims), else
   `InvalidIdentityToken` "The ID Token provided is not a valid JWT. (You may see this error if you
   sent an Access Token)"; `alg` must be RS256/384/512 or ES256/384/512 (never `none`, never HMAC);
   claims `iss`, `aud`, `sub` are required ("Missing a required claim: aud"); numeric timestamps.
3. The OIDC provider of `iss` must exist **in the role's account** (the RoleArn's account):
   "No OpenIDConnect provider found in your account for <iss>".
4. One of the token's audiences must be a client id of the provider: "Incorrect token audience".
5. The signature must verify with the issuer's key named by `kid` (`IssuerKeys`: in-process for this
   endpoint's clusters, fetched for others): no key -> "Couldn't retrieve verification key from your
   identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
   (AWS's text, double space included); issuer unreachable -> `IDPCommunicationError`; wrong
   signature -> "The ID Token provided has an invalid signature." (podid's wording).
6. Time, with 5 minutes of clock skew (IAM's documented allowance): past `exp` ->
   `ExpiredTokenException` "Token expired: current date/time N must be before the expiration
   date/timeM" (AWS's text, missing space included); `nbf` or `iat` in the future ->
   `InvalidIdentityToken` (podid's wording). AWS's "Token too old" rule is not reproduced: its basis
   is unknown.
7. Duration: default 3600, at most the role's MaxSessionDuration (`ValidationError`).
8. Session tags (claim `https://aws.amazon.com/tags`: `principal_tags` of one-element lists,
   `transitive_tag_keys`) and source identity (`https://aws.amazon.com/source_identity`).
9. The role must exist and its trust policy must allow the provider (`Principal.Federated` = the
   provider ARN) `sts:AssumeRoleWithWebIdentity`, plus `sts:TagSession` when the token carries tags and
   `sts:SetSourceIdentity` with a source identity. Condition keys: `<provider url>:sub`, `:aud` (the
   audience that matched a client id), `:azp`, `:amr` (multivalued) when present, `aws:RequestTag/*`,
   `aws:TagKeys`, `sts:TransitiveTagKeys`, `sts:SourceIdentity`, `sts:RoleSessionName`,
   `aws:FederatedProvider` (the provider ARN) and the request's global keys. A refusal, or an
   unknown role, is `AccessDenied` 403 "Not authorized to perform sts:AssumeRoleWithWebIdentity".

Credential lifetime is the duration, independent of the token's `exp`. The session's principal is
`arn:aws:sts::<acct>:assumed-role/<role>/<session name>`, issued with the same self-contained session
tokens as AssumeRole; `issuer` in the session records the provider ARN.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from podid.errors import AccessDenied, ClientError, ValidationError
from podid.policy import EvaluationRequest, Policy, PolicySet, evaluate, parse_policy
from podid.services.base import Call, ContextValue
from podid.services.iam.model import Role
from podid.services.iam.oidc import OidcProvider
from podid.services.sts.domain import DEFAULT_DURATION, MAX_TAGS, StsDomain
from podid.services.sts.errors import InvalidParameterValue, PackedPolicyTooLarge
from podid.services.sts.oidc_keys import IdpUnreachable, IssuerKeys, KeyUnavailable
from podid.services.sts.packing import packed_percent
from podid.services.sts.token import SessionToken

CLOCK_SKEW_S = 300
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
TAGS_CLAIM = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
ACTION = "sts:AssumeRoleWithWebIdentity"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/.+$")

NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
NO_KEY = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)


class InvalidIdentityToken(ClientError):
    code = "InvalidIdentityToken"


class ExpiredToken(ClientError):
    code = "ExpiredTokenException"


class IdpCommunicationError(ClientError):
    code = "IDPCommunicationError"


class IdpRejectedClaim(ClientError):
    code = "IDPRejectedClaim"
    status = 403


@dataclass(frozen=True)
class WebIdentityRequest:
    role_arn: str
    session_name: str
    token: str
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: Sequence[str] = ()
    provider_id: str | None = None


@dataclass(frozen=True)
class WebIdentityResult:
    credentials: SessionToken
    session_token: str
    assumed_role_arn: str
    assumed_role_id: str
    subject: str
    audience: str
    provider_arn: str
    packed_policy_size: int
    reported_packed_size: bool
    source_identity: str | None


@dataclass(frozen=True)
class ParsedToken:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64(segment: str) -> bytes:
    if not _SEGMENT.match(segment):
        raise InvalidIdentityToken(NOT_A_JWT)
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidIdentityToken(NOT_A_JWT) from None


def _json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidIdentityToken(NOT_A_JWT) from None
    if not isinstance(value, dict):
        raise InvalidIdentityToken(NOT_A_JWT)
    return value


def parse_token(token: str) -> ParsedToken:
    """Split and decode a compact JWS; checks the algorithm and the required claims' presence."""
    # botocore sends the token file verbatim: a trailing newline is part of the parameter.
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise InvalidIdentityToken(NOT_A_JWT)
    header, claims = _json(parts[0]), _json(parts[1])
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise InvalidIdentityToken(
            f"The ID Token's signing algorithm {str(alg)[:20]} is not supported; use one of "
            + ", ".join(ALGORITHMS)
            + "."
        )
    if "crit" in header:
        raise InvalidIdentityToken(
            "The ID Token carries critical header parameters, which are not supported."
        )
    signature = _b64(parts[2]) if parts[2] else b""
    for name in ("iss", "aud", "sub"):
        value = claims.get(name)
        if value is None or value == "" or value == []:
            raise InvalidIdentityToken(f"Missing a required claim: {name}")
    if not isinstance(claims["iss"], str) or not isinstance(claims["sub"], str):
        raise InvalidIdentityToken(NOT_A_JWT)
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidIdentityToken(
                f"The ID Token's {name} claim must be an integer (seconds since the epoch)."
            )
    if claims.get("exp") is None:
        raise InvalidIdentityToken("Missing a required claim: exp")
    return ParsedToken(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def verify_signature(parsed: ParsedToken, jwk: Mapping[str, Any]) -> None:
    """Raise `InvalidIdentityToken` unless the signature verifies with `jwk` under the token's `alg`."""
    import jwt
    from jwt.algorithms import get_default_algorithms

    alg = str(parsed.header["alg"])
    if jwk.get("alg") not in (None, alg):
        raise InvalidIdentityToken(NO_KEY)
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg).key
        ok = get_default_algorithms()[alg].verify(parsed.signing_input, key, parsed.signature)
    except Exception:  # a JWK that does not fit the algorithm (RSA key for ES256, bad numbers)
        raise InvalidIdentityToken(NO_KEY) from None
    if not ok:
        raise InvalidIdentityToken("The ID Token provided has an invalid signature.")


def _parse_trust(text: str) -> Policy:
    return parse_policy(text, "trust", enforce_size=False)


def _condition_prefix(provider: OidcProvider) -> str:
    return provider.url


class WebIdentity:
    """AssumeRoleWithWebIdentity over the STS domain (sessions, IAM) and the issuers' keys."""

    def __init__(self, sts: StsDomain, keys: IssuerKeys) -> None:
        self.sts = sts
        self.keys = keys
        # trust policies were validated when written; parse each text once per instance
        self.trust_policy: Callable[[str], Policy] = lru_cache(maxsize=1024)(_parse_trust)

    async def assume(self, call: Call, req: WebIdentityRequest) -> WebIdentityResult:
        if req.provider_id is not None:
            raise InvalidParameterValue(
                "ProviderId is for OAuth 2.0 providers, which podid does not serve; omit it for "
                "OpenID Connect ID tokens."
            )
        parsed = parse_token(req.token)
        claims = parsed.claims
        issuer = str(claims["iss"])
        match = _ROLE_ARN.match(req.role_arn)
        account = match.group(1) if match else ""
        provider = self.sts.iam.oidc_provider_for_issuer(account, issuer) if account else None
        if provider is None:
            raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {issuer}")
        audience = next((a for a in audiences(claims) if a in provider.client_ids), None)
        if audience is None:
            raise InvalidIdentityToken("Incorrect token audience")
        kid = parsed.header.get("kid", "")
        try:
            jwk = await self.keys.key(issuer, kid if isinstance(kid, str) else "")
        except KeyUnavailable:
            raise InvalidIdentityToken(NO_KEY) from None
        except IdpUnreachable:
            raise IdpCommunicationError(
                "Couldn't connect to your identity provider to retrieve its verification keys; "
                "retry the request."
            ) from None
        verify_signature(parsed, jwk)
        self._check_time(claims, call)

        role = self.sts.iam.role_from_arn(req.role_arn)
        denied = AccessDenied(f"Not authorized to perform {ACTION}")
        if role is None:
            raise denied
        duration = self._duration(role, req.duration_seconds)
        tags, transitive = self._token_tags(claims)
        source_identity = self._source_identity(claims)
        policies = self.sts.session_policies(req.policy, req.policy_arns)
        packed = packed_percent(policies, tags.items())
        if packed > 100:
            raise PackedPolicyTooLarge(
                f"Packed policy consumes {packed}% of allotted space, "
                "please use smaller policy for this request."
            )
        context = self._context(call, provider, claims, audience, req, tags, transitive, source_identity)
        actions = [ACTION]
        if tags:
            actions.append("sts:TagSession")
        if source_identity is not None:
            actions.append("sts:SetSourceIdentity")
        trust = self.trust_policy(role.trust_policy)
        for action in actions:
            request = EvaluationRequest(
                principal=provider.arn,
                action=action,
                resource=role.arn,
                resource_account=role.account,
                context=context,
                principal_account=provider.account,
            )
            if not evaluate(request, PolicySet(resource=trust)).allowed:
                raise denied
        self.sts.iam.note_role_used(role, call.now, call.region)
        return self._issue(
            call,
            role,
            req,
            duration,
            tags,
            transitive,
            policies,
            source_identity,
            provider,
            audience,
            packed,
            str(claims["sub"]),
        )

    @staticmethod
    def _check_time(claims: Mapping[str, Any], call: Call) -> None:
        now = int(call.now.timestamp())
        exp = int(claims["exp"])
        if now > exp + CLOCK_SKEW_S:
            raise ExpiredToken(
                f"Token expired: current date/time {now} must be before the expiration date/time{exp}"
            )
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and int(value) > now + CLOCK_SKEW_S:
                raise InvalidIdentityToken(
                    f"The ID Token is not valid yet: its {name} claim ({int(value)}) is after the current "
                    f"date/time {now}."
                )

    @staticmethod
    def _duration(role: Role, requested: int | None) -> int:
        if requested is None:
            return DEFAULT_DURATION
        if requested > role.max_session_duration:
            raise ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        return requested

    @staticmethod
    def _token_tags(claims: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
        raw = claims.get(TAGS_CLAIM)
        if raw is None:
            return {}, []
        bad = InvalidIdentityToken(
            f"The {TAGS_CLAIM} claim must be an object with principal_tags (each value a one-element list "
            "of strings) and optional transitive_tag_keys."
        )
        if not isinstance(raw, dict) or not isinstance(raw.get("principal_tags", {}), dict):
            raise bad
        tags: dict[str, str] = {}
        for key, value in (raw.get("principal_tags") or {}).items():
            if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
                raise bad
            if key.lower() in {k.lower() for k in tags}:
                raise InvalidParameterValue(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive."
                )
            if not 1 <= len(key) <= 128 or len(value[0]) > 256:
                raise bad
            tags[key] = value[0]
        if len(tags) > MAX_TAGS:
            raise ValidationError(
                f"1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_TAGS}"
            )
        transitive_raw = raw.get("transitive_tag_keys") or []
        if not isinstance(transitive_raw, list) or not all(isinstance(k, str) for k in transitive_raw):
            raise bad
        transitive: list[str] = []
        for key in transitive_raw:
            name = next((k for k in tags if k.lower() == key.lower()), None)
            if name is None:
                raise InvalidParameterValue(
                    f"The transitive tag key {key} must be included in the requested tags."
                )
            if name not in transitive:
                transitive.append(name)
        return tags, transitive

    @staticmethod
    def _source_identity(claims: Mapping[str, Any]) -> str | None:
        value = claims.get(SOURCE_IDENTITY_CLAIM)
        if value is None:
            return None
        if not isinstance(value, str) or not 2 <= len(value) <= 64 or not re.fullmatch(r"[\w+=,.@-]*", value):
            raise InvalidIdentityToken(f"The {SOURCE_IDENTITY_CLAIM} claim is not a valid source identity.")
        return value

    @staticmethod
    def _context(
        call: Call,
        provider: OidcProvider,
        claims: Mapping[str, Any],
        audience: str,
        req: WebIdentityRequest,
        tags: Mapping[str, str],
        transitive: Sequence[str],
        source_identity: str | None,
    ) -> dict[str, ContextValue]:
        prefix = _condition_prefix(provider)
        context: dict[str, ContextValue] = {
            "aws:CurrentTime": call.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(call.now.timestamp())),
            "aws:SourceIp": call.source_ip,
            "aws:SecureTransport": "true" if call.secure_transport else "false",
            "aws:RequestedRegion": call.region,
            "aws:PrincipalIsAWSService": "false",
            "aws:ViaAWSService": "false",
            "aws:FederatedProvider": provider.arn,
            "sts:RoleSessionName": req.session_name,
            f"{prefix}:sub": str(claims["sub"]),
            f"{prefix}:aud": audience,
        }
        azp = claims.get("azp")
        if isinstance(azp, str):
            context[f"{prefix}:azp"] = azp
        amr = claims.get("amr")
        if isinstance(amr, list):
            context[f"{prefix}:amr"] = [str(a) for a in amr]
        elif isinstance(amr, str):
            context[f"{prefix}:amr"] = [amr]
        for key, value in tags.items():
            context[f"aws:RequestTag/{key}"] = value
        if tags:
            context["aws:TagKeys"] = list(tags)
        if transitive:
            context["sts:TransitiveTagKeys"] = list(transitive)
        if source_identity is not None:
            context["sts:SourceIdentity"] = source_identity
        return context

    def _issue(
        self,
        call: Call,
        role: Role,
        req: WebIdentityRequest,
        duration: int,
        tags: dict[str, str],
        transitive: list[str],
        policies: list[str],
        source_identity: str | None,
        provider: OidcProvider,
        audience: str,
        packed: int,
        subject: str,
    ) -> WebIdentityResult:
        decoded, token, principal = self.sts.issue(
            role,
            req.session_name,
            now=call.now,
            duration=duration,
            tags=tags,
            transitive=transitive,
            policies=policies,
            source_identity=source_identity,
            chained=False,
            issuer=provider.arn,
        )
        return WebIdentityResult(
            credentials=decoded,
            session_token=token,
            assumed_role_arn=principal.arn,
            assumed_role_id=principal.user_id,
            subject=subject,
            audience=audience,
            provider_arn=provider.arn,
            packed_policy_size=packed,
            reported_packed_size=bool(policies or tags),
            source_identity=source_identity,
        )
