"""STS's error shapes (botocore `sts` 2011-06-15) and the generic ones it sends."""

from __future__ import annotations

from typing import ClassVar

from podid.errors import ClientError


class MalformedPolicyDocument(ClientError):
    code: ClassVar[str] = "MalformedPolicyDocument"


class PackedPolicyTooLarge(ClientError):
    code: ClassVar[str] = "PackedPolicyTooLarge"


class InvalidParameterValue(ClientError):
    """AWS's generic query-protocol code for a parameter value it refuses (tag rules)."""

    code: ClassVar[str] = "InvalidParameterValue"
