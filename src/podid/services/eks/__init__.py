"""EKS: clusters with their own token issuers, node groups, add-ons and Pod Identity associations."""

from podid.services.eks.domain import EksDomain
from podid.services.eks.model import Addon, Association, Cluster, EksEvent, Nodegroup
from podid.services.eks.oidc import oidc_document
from podid.services.eks.provider import EksProvider

__all__ = [
    "Addon",
    "Association",
    "Cluster",
    "EksDomain",
    "EksEvent",
    "EksProvider",
    "Nodegroup",
    "oidc_document",
]
