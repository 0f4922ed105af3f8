"""`Authorizer`: the one place that turns a request's principal and checks into a policy decision.

For each `AuthzCheck` it builds the request context from the principal and the call (global
condition keys), adds the check's own keys, gathers the policies that apply and asks the policy
engine. A refusal raises the service's access-denied error with the engine's message:
`AccessDenied` 403 (iam, sts, s3, cloudformation), `AccessDeniedException` 403 (eks) and
`AccessDeniedException` 400 (eks-auth, per its model).

Policies by principal kind:
- user: attached managed + inline policies, its permissions boundary;
- role session: the role's *current* attached + inline policies and boundary (read at request time,
  by role ARN and unique id: a deleted role's sessions are left with nothing), and the session's
  policies;
- root: everything in its own account (an allow-all identity policy); resource policies still apply;
- service principal: no identity policies; only the resource policy (e.g. a trust policy) decides;
- anonymous (an unsigned S3 request): only a resource policy granting `*` can allow.

Global keys (IAM User Guide, "AWS global condition context keys"): aws:PrincipalArn (a session's
role ARN with its path), aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username (users
only), aws:PrincipalTag/* (entity tags, then session tags override), aws:SourceIdentity,
aws:TokenIssueTime and aws:MultiFactorAuthPresent ("false"; temporary credentials only, as AWS omits
it for long-term keys), aws:CurrentTime, aws:EpochTime, aws:SourceIp, aws:SecureTransport,
aws:RequestedRegion, aws:PrincipalIsAWSService, aws:PrincipalServiceName (service principals),
aws:ViaAWSService ("false"), aws:FederatedProvider (sessions of AssumeRoleWithWebIdentity: the IAM
OIDC provider's ARN).

Role trust policies (an `sts:` check on a role with the trust as resource policy) are required even
in the same account: a trust that names only the account delegates to identity policies *and* must
allow; one that does not name the caller refuses whatever the identity policies say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache

from podid.errors import AccessDenied, AwsError
from podid.policy import (
    Decision,
    EvaluationRequest,
    Policy,
    PolicyKind,
    PolicySet,
    access_denied_message,
    evaluate,
    parse_policy,
)
from podid.services.base import AuthzCheck, Call, ContextValue, Principal
from podid.services.iam.domain import IamDomain

ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'

ANONYMOUS_ARN = "anonymous"
# Not a real account: forces the engine's cross-account rule (both sides must allow).
_OTHER_ACCOUNT = "000000000000"
_PRINCIPAL_TYPES = {"user": "User", "role-session": "AssumedRole", "root": "Account"}


def access_denied_error(service: str, message: str) -> AwsError:
    if service == "eks":
        return AwsError(message, code="AccessDeniedException", status=403, sender_fault=True)
    if service == "eks-auth":
        return AwsError(message, code="AccessDeniedException", status=400, sender_fault=True)
    return AccessDenied(message)


def _iso(call: Call) -> str:
    return _seconds_iso(call.now)


def _seconds_iso(when: datetime) -> str:
    """`2024-01-02T03:04:05Z`, as `strftime` would write it (formatted by hand: it runs per request)."""
    if when.year < 1000:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{when.year}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"


def _is_trust_check(check: AuthzCheck) -> bool:
    """STS actions on a role are decided by its trust policy (a policy without Resource)."""
    return (
        check.resource_policy is not None and check.action.startswith("sts:") and ":role/" in check.resource
    )


class Authorizer:
    def __init__(self, iam: IamDomain) -> None:
        self.iam = iam
        # Stored documents were size-checked when written; AWS managed policies may exceed the
        # customer quotas (ReadOnlyAccess), so parse without size limits, cached per authorizer.
        self.compile: Callable[[str, PolicyKind], Policy] = lru_cache(maxsize=4096)(self._parse)

    @staticmethod
    def _parse(text: str, kind: PolicyKind) -> Policy:
        return parse_policy(text, kind, enforce_size=False)

    def context_for(self, call: Call) -> dict[str, ContextValue]:
        """The global condition keys of a request."""
        p = call.principal
        ctx: dict[str, ContextValue] = {
            "aws:CurrentTime": _iso(call),
            "aws:EpochTime": str(int(call.now.timestamp())),
            "aws:SourceIp": call.source_ip,
            "aws:SecureTransport": "true" if call.secure_transport else "false",
            "aws:RequestedRegion": call.region,
            "aws:PrincipalIsAWSService": "true" if p.is_service else "false",
            "aws:ViaAWSService": "false",
        }
        if p.is_service:
            ctx["aws:PrincipalServiceName"] = p.arn
            return ctx
        if p.kind == "anonymous":
            return ctx  # no principal, so no principal keys
        ctx["aws:PrincipalAccount"] = p.account
        ctx["aws:userid"] = p.user_id
        if p.kind in _PRINCIPAL_TYPES:
            ctx["aws:PrincipalType"] = _PRINCIPAL_TYPES[p.kind]
        if p.kind == "user":
            ctx["aws:username"] = p.name
        if p.session is not None:
            ctx["aws:PrincipalArn"] = p.session.role_arn
            ctx["aws:MultiFactorAuthPresent"] = "false"
            issued = getattr(p.session, "issued_at", None)
            if issued is not None:
                ctx["aws:TokenIssueTime"] = _seconds_iso(issued)
            if p.session.source_identity is not None:
                ctx["aws:SourceIdentity"] = p.session.source_identity
            if p.session.issuer is not None and ":oidc-provider/" in p.session.issuer:
                # a web-identity session (AssumeRoleWithWebIdentity records the provider ARN as issuer)
                ctx["aws:FederatedProvider"] = p.session.issuer
        else:
            ctx["aws:PrincipalArn"] = p.arn
        for key, value in self.iam.principal_tags(p).items():
            ctx[f"aws:PrincipalTag/{key}"] = value
        return ctx

    def policy_set(
        self, principal: Principal, resource_policy: str | None, *, trust: bool = False
    ) -> PolicySet:
        compile_policy = self.compile
        resource = (
            compile_policy(resource_policy, "trust" if trust else "resource") if resource_policy else None
        )
        if principal.kind == "root":
            return PolicySet(identity=(compile_policy(ALLOW_ALL, "identity"),), resource=resource)
        if principal.kind in ("service", "anonymous"):
            return PolicySet(resource=resource)
        documents, boundary = self.iam.policies_for(principal)
        session = principal.session.session_policies if principal.session is not None else ()
        return PolicySet(
            identity=tuple(compile_policy(d, "identity") for d in documents),
            resource=resource,
            boundaries=(compile_policy(boundary, "boundary"),) if boundary else (),
            session=tuple(compile_policy(d, "session") for d in session),
        )

    def _authorize_anonymous(
        self, call: Call, checks: Sequence[AuthzCheck], base: dict[str, ContextValue]
    ) -> None:
        """An unsigned request: only a resource policy that grants `*` (a public bucket) can allow it.

        Evaluated with no identity policies and no accounts on either side, so the engine's
        same-account rule applies and only a wildcard `Principal` match allows.
        """
        for check in checks:
            policies = (
                PolicySet(resource=self.compile(check.resource_policy, "resource"))
                if (check.resource_policy)
                else PolicySet()
            )
            request = EvaluationRequest(
                principal=ANONYMOUS_ARN,
                action=check.action,
                resource=check.resource,
                context={**base, **check.context},
            )
            decision = evaluate(request, policies)
            if not decision.allowed:
                message = access_denied_message(ANONYMOUS_ARN, check.action, check.resource, decision)
                raise access_denied_error(call.service, message)

    @staticmethod
    def _trust_must_name_caller(request: EvaluationRequest, policies: PolicySet) -> Decision:
        """A role's trust policy is required, even in the same account (IAM User Guide, "How IAM roles
        differ from resource-based policies"): when it names only the caller's account, the identity
        policy decides *and* the trust must allow; evaluating as if cross-account gives exactly that.
        """
        elsewhere = replace(request, resource_account=_OTHER_ACCOUNT)
        return evaluate(elsewhere, policies)

    def authorize(self, call: Call, checks: Sequence[AuthzCheck]) -> None:
        """Raise the service's access-denied error unless every check is allowed."""
        call.trace.extend(checks)
        if not checks or (call.service == "sts" and call.operation == "GetCallerIdentity"):
            return
        p = call.principal
        base = self.context_for(call)
        if p.kind == "anonymous":
            self._authorize_anonymous(call, checks, base)
            return
        sets: dict[str | None, PolicySet] = {}
        for check in checks:
            if check.resource_policy not in sets:
                sets[check.resource_policy] = self.policy_set(
                    p, check.resource_policy, trust=_is_trust_check(check)
                )
            request = EvaluationRequest(
                principal=p.arn,
                action=check.action,
                resource=check.resource,
                resource_account=check.resource_account or (None if p.is_service else p.account),
                context={**base, **check.context},
                principal_account=None if p.is_service else p.account,
            )
            decision = evaluate(request, sets[check.resource_policy])
            if decision.allowed and decision.deciding == "identity" and _is_trust_check(check):
                decision = self._trust_must_name_caller(request, sets[check.resource_policy])
            if not decision.allowed:
                message = access_denied_message(p.arn, check.action, check.resource, decision)
                raise access_denied_error(call.service, message)
