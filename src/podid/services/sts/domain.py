"""`StsDomain`: AssumeRole and GetCallerIdentity, the STS rules of AWS, self-contained session tokens.

Rules implemented (AWS STS API reference, `AssumeRole`; IAM User Guide, session tags and role
chaining), in the order they are checked:

1. Root credentials may not assume roles (`AccessDenied` "Roles may not be assumed by root accounts.").
2. An unknown role (or a role ARN whose path does not match) is `AccessDenied` with the usual
   "User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role arn>".
3. Duration: default 3600; role chaining (caller is a role session) caps at 3600 ("...1 hour session
   limit for roles assumed by role chaining."); otherwise at most the role's `MaxSessionDuration`
   ("...exceeds the MaxSessionDuration set for this role."). A caller of kind "service" (EKS Auth as
   `pods.eks.amazonaws.com`, EC2 node credentials) may ask up to 43200 whatever the role says: EKS
   issues 6-hour pod credentials for roles with the default 1-hour maximum (reference §5.2, §8.4).
4. Tags: case-insensitive duplicate keys, `TransitiveTagKeys` not among the tags, and a key that
   repeats an inherited transitive tag are each refused (`InvalidParameterValue`: AWS documents the
   rules, not the code; this is podid's choice). Inherited transitive tags and an inherited source
   identity pass to the new session; a different `SourceIdentity` in a chain is refused.
5. Session policies: inline `Policy` validated as a session policy, `PolicyArns` must be managed
   policies that exist; plaintext of both over 2,048 characters is a `ValidationError`; the packed
   size (see `packing`) over 100% is `PackedPolicyTooLarge`.
6. Authorization, through the given `authorize` (the endpoint's authorizer): `sts:AssumeRole` on the
   role with its trust policy as resource policy; `sts:TagSession` when tags are passed or inherited
   transitive tags exist (EKS's target-role documentation requires it on the second hop, where only
   inherited tags travel); `sts:SetSourceIdentity` when a source identity is given. Context keys:
   `aws:RequestTag/*` and `aws:TagKeys` (passed and inherited), `sts:TransitiveTagKeys`,
   `sts:ExternalId`, `sts:RoleSessionName`, `sts:SourceIdentity`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from podid.clock import Clock
from podid.errors import AccessDenied, ValidationError
from podid.services.base import AuthzCheck, Call, ContextValue, Principal
from podid.services.iam.common import validate_document
from podid.services.iam.domain import IamDomain
from podid.services.iam.ids import access_key_id, secret_access_key
from podid.services.iam.model import Role
from podid.services.sts.errors import InvalidParameterValue, MalformedPolicyDocument, PackedPolicyTooLarge
from podid.services.sts.packing import packed_percent
from podid.services.sts.token import SessionToken, SessionTokenCodec, StsSession, TokenInvalid

Authorize = Callable[[Call, Sequence[AuthzCheck]], None]

DEFAULT_DURATION = 3600
MIN_DURATION = 900
MAX_DURATION = 43200
CHAINED_MAX = 3600
SESSION_POLICY_PLAINTEXT_MAX = 2048
MAX_TAGS = 50


@dataclass(frozen=True)
class AssumeRoleRequest:
    role_arn: str
    session_name: str
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: Sequence[str] = ()
    tags: Sequence[tuple[str, str]] = ()
    transitive_tag_keys: Sequence[str] = ()
    external_id: str | None = None
    source_identity: str | None = None


@dataclass(frozen=True)
class AssumedRole:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    assumed_role_arn: str  # arn:aws:sts::A:assumed-role/NAME/SESSION (no role path)
    assumed_role_id: str  # AROA...:SESSION
    packed_policy_size: int
    principal: Principal  # the new session's principal
    source_identity: str | None = None


def assumed_role_arn(role: Role, session_name: str) -> str:
    return f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}"


def session_principal(token: SessionToken) -> Principal:
    """The principal of requests signed with a session's credentials."""
    s = token.session
    role_name = s.role_arn.rsplit("/", 1)[-1]
    return Principal(
        kind="role-session",
        arn=f"arn:aws:sts::{token.account}:assumed-role/{role_name}/{s.session_name}",
        account=token.account,
        user_id=f"{s.role_id}:{s.session_name}",
        name=role_name,
        access_key_id=token.access_key_id,
        session=s,
    )


class StsDomain:
    def __init__(self, iam: IamDomain, clock: Clock, token_key: bytes) -> None:
        self.iam = iam
        self.clock = clock
        self.codec = SessionTokenCodec(token_key)

    # tokens
    def decode_token(self, token: str) -> SessionToken:
        """Decrypt a session token; raises `TokenInvalid` if it was not issued with this key."""
        return self.codec.decode(token)

    # GetCallerIdentity
    @staticmethod
    def caller_identity(principal: Principal) -> dict[str, str]:
        if principal.kind == "root":
            return {"UserId": principal.account, "Account": principal.account, "Arn": principal.arn}
        return {"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn}

    # AssumeRole
    def assume_role(
        self, caller: Principal, req: AssumeRoleRequest, authorize: Authorize, *, call: Call | None = None
    ) -> AssumedRole:
        if caller.kind == "root":
            raise AccessDenied("Roles may not be assumed by root accounts.")
        if caller.kind == "anonymous":
            raise AccessDenied("Anonymous principals may not assume roles.")
        now = self.clock.now()
        role = self.iam.role_from_arn(req.role_arn)
        if role is None:
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {req.role_arn}"
            )
        chained = caller.kind == "role-session"
        duration = self._duration(caller, role, req.duration_seconds, chained)
        inherited = self._inherited_tags(caller)
        tags, transitive = self._tags(req, inherited)
        source_identity = self._source_identity(caller, req.source_identity)
        policies = self.session_policies(req.policy, req.policy_arns)
        packed = packed_percent(policies, tags.items())
        if packed > 100:
            raise PackedPolicyTooLarge(
                f"Packed policy consumes {packed}% of allotted space, "
                "please use smaller policy for this request."
            )
        call = call or self._call(caller, now)
        authorize(call, self._checks(role, req, tags, transitive, source_identity))
        self.iam.note_role_used(role, now, call.region)

        decoded, token, principal = self.issue(
            role,
            req.session_name,
            now=now,
            duration=duration,
            tags=tags,
            transitive=transitive,
            policies=policies,
            source_identity=source_identity,
            chained=chained,
            issuer=caller.arn,
        )
        return AssumedRole(
            access_key_id=decoded.access_key_id,
            secret_access_key=decoded.secret_access_key,
            session_token=token,
            expiration=decoded.session.expiration,
            assumed_role_arn=principal.arn,
            assumed_role_id=principal.user_id,
            packed_policy_size=packed,
            principal=principal,
            source_identity=source_identity,
        )

    def issue(
        self,
        role: Role,
        session_name: str,
        *,
        now: datetime,
        duration: int,
        tags: dict[str, str],
        transitive: Sequence[str],
        policies: Sequence[str],
        source_identity: str | None,
        chained: bool,
        issuer: str,
    ) -> tuple[SessionToken, str, Principal]:
        """New ASIA credentials for a session of `role` (AssumeRole and AssumeRoleWithWebIdentity):
        the decoded token, its encrypted form and the principal its requests are made as."""
        session = StsSession(
            role_arn=role.arn,
            role_id=role.role_id,
            session_name=session_name,
            expiration=now + timedelta(seconds=duration),
            tags=tags,
            transitive_tag_keys=tuple(transitive),
            session_policies=tuple(policies),
            source_identity=source_identity,
            chained=chained,
            issuer=issuer,
            issued_at=now,
        )
        decoded = SessionToken(access_key_id("ASIA"), secret_access_key(), role.account, session)
        return decoded, self.codec.encode(decoded), session_principal(decoded)

    def _call(self, caller: Principal, now: datetime) -> Call:
        return Call(
            request_id=str(uuid.uuid4()),
            service="sts",
            operation="AssumeRole",
            region="us-east-1",
            principal=caller,
            now=now,
        )

    @staticmethod
    def _duration(caller: Principal, role: Role, requested: int | None, chained: bool) -> int:
        if requested is None:
            return DEFAULT_DURATION
        if not MIN_DURATION <= requested <= MAX_DURATION:
            raise ValidationError(
                f"1 validation error detected: Value '{requested}' at 'durationSeconds' failed to satisfy "
                f"constraint: Member must have value {'greater' if requested < MIN_DURATION else 'less'} "
                f"than or equal to {MIN_DURATION if requested < MIN_DURATION else MAX_DURATION}"
            )
        if chained and requested > CHAINED_MAX:
            raise ValidationError(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
                "role chaining."
            )
        if not caller.is_service and requested > role.max_session_duration:
            raise ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        return requested

    @staticmethod
    def _inherited_tags(caller: Principal) -> dict[str, str]:
        if caller.session is None:
            return {}
        keys = {k.lower() for k in caller.session.transitive_tag_keys}
        return {k: v for k, v in caller.session.tags.items() if k.lower() in keys}

    @staticmethod
    def _tags(req: AssumeRoleRequest, inherited: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        if len(req.tags) > MAX_TAGS:
            raise ValidationError(
                f"1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_TAGS}"
            )
        passed: dict[str, str] = {}
        lower_passed: dict[str, str] = {}  # lower-cased key -> the key as passed (keys are unique)
        for key, value in req.tags:
            lower = key.lower()
            if lower in lower_passed:
                raise InvalidParameterValue(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive."
                )
            passed[key] = value
            lower_passed[lower] = key
        clash = sorted(k for k in inherited if k.lower() in lower_passed)
        if clash:
            raise InvalidParameterValue(
                "One or more tag keys are already set by inherited transitive session tags and cannot be "
                f"passed again: {', '.join(clash)}"
            )
        for key in req.transitive_tag_keys:
            if key.lower() not in lower_passed:
                raise InvalidParameterValue(
                    f"The transitive tag key {key} must be included in the requested tags."
                )
        tags = {**inherited, **passed}
        transitive = list(inherited)
        for key in req.transitive_tag_keys:
            name = lower_passed[key.lower()]
            if name not in transitive:
                transitive.append(name)
        return tags, transitive

    @staticmethod
    def _source_identity(caller: Principal, requested: str | None) -> str | None:
        inherited = caller.session.source_identity if caller.session is not None else None
        if inherited is not None and requested is not None and requested != inherited:
            raise InvalidParameterValue(
                "The source identity of a role session cannot be changed: the calling session's source "
                f"identity is {inherited}."
            )
        return inherited if inherited is not None else requested

    def session_policies(self, policy: str | None, policy_arns: Sequence[str]) -> list[str]:
        """The documents of a request's session policies (inline `Policy`, then `PolicyArns`), checked
        as AssumeRole and AssumeRoleWithWebIdentity check them."""
        plaintext = len(policy or "") + sum(len(a) for a in policy_arns)
        if plaintext > SESSION_POLICY_PLAINTEXT_MAX:
            raise ValidationError(
                "The combined plaintext of the inline session policy and the managed session policy ARNs "
                f"must not exceed {SESSION_POLICY_PLAINTEXT_MAX} characters."
            )
        policies: list[str] = []
        if policy is not None:
            validate_document(policy, "session")
            policies.append(policy)
        for arn in policy_arns:
            document = self.iam.managed_policy_document(arn)
            if document is None:
                raise MalformedPolicyDocument(f"Policy {arn} does not exist or is not attachable.")
            policies.append(document)
        return policies

    @staticmethod
    def _checks(
        role: Role,
        req: AssumeRoleRequest,
        tags: dict[str, str],
        transitive: list[str],
        source_identity: str | None,
    ) -> list[AuthzCheck]:
        context: dict[str, ContextValue] = {"sts:RoleSessionName": req.session_name}
        for key, value in tags.items():
            context[f"aws:RequestTag/{key}"] = value
        if tags:
            context["aws:TagKeys"] = list(tags)
        if transitive:
            context["sts:TransitiveTagKeys"] = list(transitive)
        if req.external_id is not None:
            context["sts:ExternalId"] = req.external_id
        if source_identity is not None:
            context["sts:SourceIdentity"] = source_identity
        checks = [AuthzCheck("sts:AssumeRole", role.arn, context, role.trust_policy, role.account)]
        if tags:
            checks.append(AuthzCheck("sts:TagSession", role.arn, context, role.trust_policy, role.account))
        if req.source_identity is not None:
            checks.append(
                AuthzCheck("sts:SetSourceIdentity", role.arn, context, role.trust_policy, role.account)
            )
        return checks


__all__ = [
    "AssumeRoleRequest",
    "AssumedRole",
    "Authorize",
    "StsDomain",
    "TokenInvalid",
    "session_principal",
]
