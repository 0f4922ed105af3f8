"""`StsProvider`: STS's wire operations (botocore `sts` 2011-06-15, query protocol) over `StsDomain`.

Neither operation declares an authorization spec: `GetCallerIdentity` is always allowed (as AWS),
and `AssumeRole` is authorized inside the domain (trust policy, `sts:TagSession`, ...) with the
authorizer handed in at construction. `AssumeRoleWithWebIdentity` is unsigned: the token is checked
and the trust policy evaluated by `podid.services.sts.webidentity`.
"""

from __future__ import annotations

from podid.errors import AccessDenied
from podid.services.base import Call, Params, Provider, Result, operation
from podid.services.sts.domain import AssumeRoleRequest, Authorize, StsDomain
from podid.services.sts.oidc_keys import IssuerKeys
from podid.services.sts.webidentity import WebIdentity, WebIdentityRequest


class StsProvider(Provider):
    service_name = "sts"

    def __init__(self, sts: StsDomain, authorize: Authorize, web_identity: WebIdentity | None = None) -> None:
        self.sts = sts
        self.authorize = authorize
        # Without a gateway-built one (which resolves this endpoint's own cluster issuers in-process),
        # every issuer's keys are fetched over the network.
        self.web_identity = web_identity or WebIdentity(sts, IssuerKeys())

    @operation("GetCallerIdentity")
    def get_caller_identity(self, call: Call, p: Params) -> Result:
        if call.principal.kind == "anonymous":
            raise AccessDenied("Anonymous principals cannot call GetCallerIdentity.")
        return self.sts.caller_identity(call.principal)

    @operation("AssumeRole")
    def assume_role(self, call: Call, p: Params) -> Result:
        if p.get("SerialNumber") or p.get("TokenCode"):
            # podid has no MFA devices, so no one-time code can be valid.
            raise AccessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")
        req = AssumeRoleRequest(
            role_arn=p["RoleArn"],
            session_name=p["RoleSessionName"],
            duration_seconds=p.get("DurationSeconds"),
            policy=p.get("Policy"),
            policy_arns=[str(a["arn"]) for a in p.get("PolicyArns") or ()],
            tags=[(str(t["Key"]), str(t.get("Value", ""))) for t in p.get("Tags") or ()],
            transitive_tag_keys=[str(k) for k in p.get("TransitiveTagKeys") or ()],
            external_id=p.get("ExternalId"),
            source_identity=p.get("SourceIdentity"),
        )
        assumed = self.sts.assume_role(call.principal, req, self.authorize, call=call)
        out: Result = {
            "Credentials": {
                "AccessKeyId": assumed.access_key_id,
                "SecretAccessKey": assumed.secret_access_key,
                "SessionToken": assumed.session_token,
                "Expiration": assumed.expiration,
            },
            "AssumedRoleUser": {"AssumedRoleId": assumed.assumed_role_id, "Arn": assumed.assumed_role_arn},
        }
        if req.policy is not None or req.policy_arns or req.tags or assumed.packed_policy_size:
            out["PackedPolicySize"] = assumed.packed_policy_size
        if assumed.source_identity is not None:
            out["SourceIdentity"] = assumed.source_identity
        return out

    @operation("AssumeRoleWithWebIdentity")
    async def assume_role_with_web_identity(self, call: Call, p: Params) -> Result:
        req = WebIdentityRequest(
            role_arn=p["RoleArn"],
            session_name=p["RoleSessionName"],
            token=p["WebIdentityToken"],
            duration_seconds=p.get("DurationSeconds"),
            policy=p.get("Policy"),
            policy_arns=[str(a["arn"]) for a in p.get("PolicyArns") or ()],
            provider_id=p.get("ProviderId"),
        )
        got = await self.web_identity.assume(call, req)
        out: Result = {
            "Credentials": {
                "AccessKeyId": got.credentials.access_key_id,
                "SecretAccessKey": got.credentials.secret_access_key,
                "SessionToken": got.session_token,
                "Expiration": got.credentials.session.expiration,
            },
            "SubjectFromWebIdentityToken": got.subject,
            "AssumedRoleUser": {"AssumedRoleId": got.assumed_role_id, "Arn": got.assumed_role_arn},
            "Provider": got.provider_arn,
            "Audience": got.audience,
        }
        if got.reported_packed_size:
            out["PackedPolicySize"] = got.packed_policy_size
        if got.source_identity is not None:
            out["SourceIdentity"] = got.source_identity
        return out
