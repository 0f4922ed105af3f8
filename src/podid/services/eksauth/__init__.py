"""EKS Auth: `AssumeRoleForPodIdentity`, the exchange of a pod's token for its role's credentials."""

from podid.services.eksauth.domain import EksAuthDomain, PodIdentityGrant, session_name, sts_audit_event
from podid.services.eksauth.provider import EksAuthProvider, translate_error

__all__ = [
    "EksAuthDomain",
    "EksAuthProvider",
    "PodIdentityGrant",
    "session_name",
    "sts_audit_event",
    "translate_error",
]
