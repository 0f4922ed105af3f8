"""The errors of the policy language, in the one error model (`podid.errors.AwsError`)."""

from __future__ import annotations

from typing import ClassVar

from podid.errors import AwsError


class MalformedPolicyDocument(AwsError):
    """IAM's `MalformedPolicyDocument` (400): the document breaks the policy grammar or IAM's rules."""

    code: ClassVar[str] = "MalformedPolicyDocument"
    status: ClassVar[int] = 400
    sender_fault: ClassVar[bool] = True


class PolicySizeExceeded(AwsError):
    """IAM's `LimitExceeded` (409) for a document over the size quota of its kind.

    Real IAM answers an oversized document with LimitExceeded, not MalformedPolicyDocument, e.g.
    `Cannot exceed quota for PolicySize: 6144` (managed) or `Cannot exceed quota for ACLSizePerRole:
    2048` (trust policy).
    """

    code: ClassVar[str] = "LimitExceeded"
    status: ClassVar[int] = 409
    sender_fault: ClassVar[bool] = True
