"""The `eks-auth` provider: `AssumeRoleForPodIdentity` (rest-json, botocore `eks-auth` 2023-11-26).

The gateway authorizes the caller first: `eks-auth:AssumeRoleForPodIdentity` on the cluster ARN
(the node role has it through `AmazonEKSWorkerNodePolicy`). A denial there is sent as EKS Auth's
`AccessDeniedException` (400) by `translate_error`, which the gateway applies to errors of this
service; it also turns a model-validation failure of `token` into `InvalidTokenException`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from podid.errors import AwsError
from podid.services.base import AuthzCheck, Call, Params, Provider, Result, operation
from podid.services.eksauth.domain import EksAuthDomain, authz_checks
from podid.services.eksauth.errors import (
    AccessDeniedException,
    InvalidParameterException,
    InvalidTokenException,
)


def _authz(call: Call, params: Params) -> Sequence[AuthzCheck]:
    return authz_checks(call, str(params.get("clusterName", "")))


def translate_error(err: AwsError) -> AwsError:
    """EKS Auth's form of a pipeline error: 403 AccessDenied -> 400 AccessDeniedException; a
    model-validation failure on `token` -> InvalidTokenException; other validation failures ->
    InvalidParameterException. Other errors pass unchanged."""
    if err.code in ("AccessDenied", "AccessDeniedException") and not isinstance(err, AccessDeniedException):
        return AccessDeniedException(err.message)
    failed = getattr(err, "failed_members", None)
    if callable(failed):
        members = failed()
        if isinstance(members, set) and "token" in members:
            return InvalidTokenException("The specified token is not a well-formed JWT.")
        if err.code != InvalidParameterException.code or err.status != 400:
            return InvalidParameterException(err.message)
    return err


class EksAuthProvider(Provider):
    service_name: ClassVar[str] = "eks-auth"

    def __init__(self, domain: EksAuthDomain) -> None:
        self.domain = domain

    def translate_error(self, err: AwsError) -> AwsError:
        """The gateway's hook: an error of any stage, in EKS Auth's form (see `translate_error`)."""
        return translate_error(err)

    @operation("AssumeRoleForPodIdentity", authz=_authz)
    def assume_role_for_pod_identity(self, call: Call, params: Params) -> Result:
        grant = self.domain.assume_role_for_pod_identity(call, params["clusterName"], params["token"])
        return grant.to_api()
