"""Input checks shared by the EKS operations: role ARNs, tag maps, names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from podid.services.eks.errors import EksError, InvalidParameterException

_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/([\w+=,.@/-]+)$")
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
NODEGROUP_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$")


class RoleLookup(Protocol):
    """What EKS needs from IAM (podid.services.iam's IamDomain provides it)."""

    def role_from_arn(self, arn: str) -> object | None: ...


def parse_role_arn(arn: str, member: str, cluster_name: str | None = None) -> str:
    """The account of an IAM role ARN, or InvalidParameterException naming the member."""
    match = _ROLE_ARN.match(arn or "")
    if match is None:
        raise InvalidParameterException(
            f"Invalid {member}: {arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).",
            clusterName=cluster_name,
        )
    return match.group(1)


def validate_tags(tags: Mapping[str, str] | None, error: type[EksError]) -> None:
    """EKS's TagMap rules: 1-50 entries, keys 1-128, values 0-256, no `aws:` prefix."""
    if tags is None:
        return
    if len(tags) > 50:
        raise error("Tags are limited to 50 per resource.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise error(f"Tag key {key!r} must be 1 to 128 characters long.")
        if len(value) > 256:
            raise error(f"The value of tag {key!r} must be at most 256 characters long.")
        if key.lower().startswith("aws:"):
            raise error(f"Tag key {key!r} uses the reserved prefix aws:.")
