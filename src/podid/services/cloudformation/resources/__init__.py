"""The resource types podid's CloudFormation provisions, keyed by type name."""

from __future__ import annotations

from typing import Any

from podid.services.cloudformation.resources.base import ResourceHandler
from podid.services.cloudformation.resources.ec2 import ec2_handlers
from podid.services.cloudformation.resources.eks import (
    AddonHandler,
    ClusterHandler,
    NodegroupHandler,
)
from podid.services.cloudformation.resources.eks_association import PodIdentityAssociationHandler
from podid.services.cloudformation.resources.iam import InlinePolicyHandler, ManagedPolicyHandler, RoleHandler


def build_handlers(iam: Any, eks: Any, s3: Any = None) -> dict[str, ResourceHandler]:
    """Handlers over the services' domains; S3 types only when an S3 domain is given."""
    handlers: list[ResourceHandler] = [
        RoleHandler(iam),
        ManagedPolicyHandler(iam),
        InlinePolicyHandler(iam),
        ClusterHandler(eks),
        NodegroupHandler(eks),
        AddonHandler(eks),
        PodIdentityAssociationHandler(eks),
        *ec2_handlers(),
    ]
    if s3 is not None:
        from podid.services.cloudformation.resources.s3 import BucketHandler, BucketPolicyHandler

        handlers += [BucketHandler(s3), BucketPolicyHandler(s3)]
    return {h.type_name: h for h in handlers}
