"""EKS Auth `AssumeRoleForPodIdentity`: a pod's service-account token in, its role's credentials out.

The steps (reference §1.6, §2.1, §5, §6), each failing closed:
1. `token` must match the model's JWT pattern, else `InvalidTokenException`.
2. The cluster (in the caller's account and region) must exist, else `ResourceNotFoundException`.
3. The token must verify with the cluster's issuer (`podid.kube.issuer.TokenIssuer.verify`: RS256 only,
   this cluster's `kid` and key, `iss` this cluster's issuer, `aud` containing
   `pods.eks.amazonaws.com`, `exp`/`nbf` within 60 s of leeway, `sub` and `kubernetes.io` claims
   consistent). Expired -> `ExpiredTokenException`; anything else -> `InvalidTokenException`.
   The token must be bound to a pod (`kubernetes.io.pod`): the session name and two of the six tags
   come from it, and the webhook only ever projects pod-bound tokens (our choice, documented).
   EKS Auth does not check that the pod, its uid or its service account exist anywhere.
4. The association for the token's (namespace, serviceAccount) must exist, else
   `ResourceNotFoundException` (reference §8.1a: our choice).
5. STS AssumeRole on `roleArn`, as the service principal `pods.eks.amazonaws.com`, 21,600 s whatever
   the role's MaxSessionDuration, session name `eks-<cluster[:10]>-<pod[:fit]>-<uuid4>` (at most 64
   characters: the pod name is cut to fit), the six session tags in the documented order, all
   transitive (none with `disableSessionTags`), the association's `policy` when there is no target.
6. With `targetRoleArn`: a second AssumeRole with the first session's credentials, 3,540 s,
   `ExternalId` = the association's `externalId` (always sent), the `policy`, the same session name;
   the six tags reach it as inherited transitive tags. The response describes the target session.
STS refusals map to EKS Auth errors: `AccessDenied` (trust policy) -> `AccessDeniedException` naming
the role; any other STS error (packed size, duration, policy) -> `InvalidParameterException`.

Audit: every STS AssumeRole this makes (success or failure) is handed to `audit` as a CloudTrail-shaped
record (`userIdentity` `AWSService` invoked by `pods.eks.amazonaws.com` for the first hop, the first
session as `AssumedRole` for the target hop). The token never appears in any record or message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podid.errors import AwsError
from podid.kube.issuer import TokenExpired, TokenInvalid
from podid.services.base import AuthzCheck, Call, Principal
from podid.services.eks import Association, Cluster, EksDomain
from podid.services.eksauth.errors import (
    AccessDeniedException,
    ExpiredTokenException,
    InvalidParameterException,
    InvalidTokenException,
    ResourceNotFoundException,
)
from podid.services.sts.domain import AssumedRole, AssumeRoleRequest, Authorize, StsDomain

AUDIENCE = "pods.eks.amazonaws.com"
SERVICE_PRINCIPAL = "pods.eks.amazonaws.com"
ROLE_DURATION_S = 21600
TARGET_DURATION_S = 3540
MAX_SESSION_NAME = 64
JWT_PATTERN = re.compile(r"^[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+$")
TAG_KEYS = (
    "eks-cluster-arn",
    "eks-cluster-name",
    "kubernetes-namespace",
    "kubernetes-service-account",
    "kubernetes-pod-name",
    "kubernetes-pod-uid",
)

AuditSink = Callable[[Mapping[str, Any]], None]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# hex digit of a random byte -> the RFC 4122 variant digit (binary 10xx)
_VARIANT_DIGIT = {f"{i:x}": f"{8 | (i & 3):x}" for i in range(16)}


def _uuid4() -> str:
    """`str(uuid.uuid4())` at a third of its cost (three per exchange)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"


def _event_time(when: datetime) -> str:
    """`when.strftime("%Y-%m-%dT%H:%M:%SZ")`, formatted by hand (cheaper)."""
    if when.year < 1000:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{when.year}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"


def _console_time(when: datetime) -> str:
    """`when.strftime("%b %d, %Y, %I:%M:%S %p")` (C locale), CloudTrail's form of an expiration."""
    if when.year < 1000:
        return when.strftime("%b %d, %Y, %I:%M:%S %p")
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return (
        f"{_MONTHS[when.month - 1]} {when.day:02d}, {when.year}, "
        f"{hour:02d}:{when.minute:02d}:{when.second:02d} {half}"
    )


def session_name(cluster: str, pod: str, suffix: str | None = None) -> str:
    """`eks-<cluster[:10]>-<pod>-<uuid4>`, the pod name cut so that the whole fits in 64 characters."""
    tail = suffix or _uuid4()
    head = f"eks-{cluster[:10]}-"
    room = MAX_SESSION_NAME - len(head) - 1 - len(tail)
    return f"{head}{pod[: max(room, 0)]}-{tail}"


def service_principal(account: str) -> Principal:
    return Principal(
        kind="service",
        arn=SERVICE_PRINCIPAL,
        account=account,
        user_id=SERVICE_PRINCIPAL,
        name=SERVICE_PRINCIPAL,
    )


@dataclass(frozen=True)
class PodIdentityGrant:
    """What one successful exchange produced."""

    namespace: str
    service_account: str
    association: Association
    credentials: AssumedRole

    def to_api(self) -> dict[str, Any]:
        c = self.credentials
        return {
            "subject": {"namespace": self.namespace, "serviceAccount": self.service_account},
            "audience": AUDIENCE,
            "podIdentityAssociation": {
                "associationArn": self.association.arn,
                "associationId": self.association.association_id,
            },
            "assumedRoleUser": {"arn": c.assumed_role_arn, "assumeRoleId": c.assumed_role_id},
            "credentials": {
                "sessionToken": c.session_token,
                "secretAccessKey": c.secret_access_key,
                "accessKeyId": c.access_key_id,
                "expiration": c.expiration,
            },
        }


class EksAuthDomain:
    """The exchange; `authorize` is the endpoint's authorizer (it evaluates the trust policies)."""

    def __init__(
        self,
        eks: EksDomain,
        sts: StsDomain,
        authorize: Authorize,
        *,
        audit: AuditSink | None = None,
    ) -> None:
        self.eks = eks
        self.sts = sts
        self.authorize = authorize
        self.audit = audit

    def assume_role_for_pod_identity(self, call: Call, cluster_name: str, token: str) -> PodIdentityGrant:
        if not isinstance(token, str) or not JWT_PATTERN.match(token):
            raise InvalidTokenException("The specified token is not a well-formed JWT.")
        cluster = self.eks.cluster_by_name(call.account, call.region, cluster_name)
        if cluster is None:
            raise ResourceNotFoundException(f"No cluster found for name: {cluster_name}.")
        claims = self._verify(cluster, token, call.now)
        k8s = claims["kubernetes.io"]
        namespace: str = k8s["namespace"]
        service_account: str = k8s["serviceaccount"]["name"]
        pod = k8s.get("pod")
        if not isinstance(pod, dict):
            raise InvalidTokenException("The specified token is not bound to a pod.")
        assoc = self.eks.find_association(
            cluster.account, cluster.region, cluster.name, namespace, service_account
        )
        if assoc is None:
            raise ResourceNotFoundException(
                f"No Pod Identity association found in cluster {cluster.name} for service account "
                f"{service_account} in namespace {namespace}."
            )
        name = session_name(cluster.name, str(pod["name"]))
        tags: list[tuple[str, str]] = []
        if not assoc.disable_session_tags:
            tags = list(
                zip(
                    TAG_KEYS,
                    (
                        cluster.arn,
                        cluster.name,
                        namespace,
                        service_account,
                        str(pod["name"]),
                        str(pod["uid"]),
                    ),
                    strict=True,
                )
            )
        first = self._assume(
            call,
            service_principal(cluster.account),
            AssumeRoleRequest(
                role_arn=assoc.role_arn,
                session_name=name,
                duration_seconds=ROLE_DURATION_S,
                policy=None if assoc.target_role_arn else assoc.policy,
                tags=tags,
                transitive_tag_keys=[k for k, _ in tags],
            ),
        )
        creds = first
        if assoc.target_role_arn:
            creds = self._assume(
                call,
                first.principal,
                AssumeRoleRequest(
                    role_arn=assoc.target_role_arn,
                    session_name=name,
                    duration_seconds=TARGET_DURATION_S,
                    policy=assoc.policy,
                    external_id=assoc.external_id,
                ),
            )
        return PodIdentityGrant(namespace, service_account, assoc, creds)

    def _verify(self, cluster: Cluster, token: str, now: datetime) -> dict[str, Any]:
        try:
            return self.eks.issuer_for(cluster).verify(token, audience=AUDIENCE, now=now)
        except TokenExpired as exc:
            raise ExpiredTokenException("The specified Kubernetes service account token is expired.") from exc
        except TokenInvalid as exc:
            raise InvalidTokenException(f"The specified token is invalid: {exc.message}") from exc
        except RecursionError:  # a header or payload nested past the JSON reader's recursion limit
            raise InvalidTokenException(
                "The specified token is invalid: The token is not a well-formed JWT."
            ) from None

    def _assume(self, call: Call, caller: Principal, req: AssumeRoleRequest) -> AssumedRole:
        sts_call = Call(
            request_id=_uuid4(),
            service="sts",
            operation="AssumeRole",
            region=call.region,
            principal=caller,
            now=call.now,
        )
        try:
            result = self.sts.assume_role(caller, req, self.authorize, call=sts_call)
        except AwsError as err:
            self._record(sts_call, caller, req, None, err)
            if err.code.startswith("AccessDenied"):
                raise AccessDeniedException(
                    f"EKS Pod Identity could not assume role {req.role_arn}: {err.message} "
                    f"(the role's trust policy must allow {caller.arn} to perform sts:AssumeRole"
                    + (" and sts:TagSession" if req.tags or caller.session else "")
                    + (" with the association's sts:ExternalId" if req.external_id else "")
                    + ")."
                ) from err
            raise InvalidParameterException(
                f"EKS Pod Identity could not assume role {req.role_arn}: {err.message}"
            ) from err
        self._record(sts_call, caller, req, result, None)
        return result

    def _record(
        self,
        sts_call: Call,
        caller: Principal,
        req: AssumeRoleRequest,
        result: AssumedRole | None,
        error: AwsError | None,
    ) -> None:
        if self.audit is None:
            return
        self.audit(sts_audit_event(sts_call, caller, req, result, error))


def sts_audit_event(
    sts_call: Call,
    caller: Principal,
    req: AssumeRoleRequest,
    result: AssumedRole | None,
    error: AwsError | None,
) -> dict[str, Any]:
    """The CloudTrail record of one STS AssumeRole made by EKS Auth (reference §5.2)."""
    if caller.kind == "service":
        identity: dict[str, Any] = {"type": "AWSService", "invokedBy": SERVICE_PRINCIPAL}
    else:
        identity = {
            "type": "AssumedRole",
            "principalId": caller.user_id,
            "arn": caller.arn,
            "accountId": caller.account,
            "accessKeyId": caller.access_key_id,
            "invokedBy": SERVICE_PRINCIPAL,
        }
    params: dict[str, Any] = {
        "roleArn": req.role_arn,
        "roleSessionName": req.session_name,
        "durationSeconds": req.duration_seconds,
    }
    if req.tags:
        params["tags"] = [{"key": k, "value": v} for k, v in req.tags]
        params["transitiveTagKeys"] = list(req.transitive_tag_keys)
    if req.external_id is not None:
        params["externalId"] = req.external_id
    if req.policy is not None:
        params["policy"] = req.policy
    role_account = req.role_arn.split(":")[4] if req.role_arn.count(":") >= 5 else ""
    event: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": _event_time(sts_call.now),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": sts_call.region,
        "sourceIPAddress": SERVICE_PRINCIPAL,
        "userAgent": SERVICE_PRINCIPAL,
        "requestParameters": params,
        "responseElements": None,
        "requestID": sts_call.request_id,
        "eventID": _uuid4(),
        "readOnly": True,
        "resources": [{"accountId": role_account, "type": "AWS::IAM::Role", "ARN": req.role_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": role_account,
        "eventCategory": "Management",
    }
    if result is not None:
        event["responseElements"] = {
            "credentials": {
                "accessKeyId": result.access_key_id,
                "expiration": _console_time(result.expiration),
            },
            "assumedRoleUser": {"assumedRoleId": result.assumed_role_id, "arn": result.assumed_role_arn},
            "packedPolicySize": result.packed_policy_size,
        }
    if error is not None:
        event["errorCode"] = error.code
        event["errorMessage"] = error.message
    return event


def authz_checks(call: Call, cluster_name: str) -> tuple[AuthzCheck, ...]:
    """The caller (the node role) needs eks-auth:AssumeRoleForPodIdentity on the cluster ARN."""
    arn = f"arn:aws:eks:{call.region}:{call.account}:cluster/{cluster_name}"
    return (AuthzCheck("eks-auth:AssumeRoleForPodIdentity", arn),)
