"""SigV4/SigV2 refusals and the error each AWS service sends for them.

`SigV4Failure` is what the verifiers (`podid.wire.sigv4`, `podid.wire.sigv2`) and a caller's
`CredentialLookup` raise; its `kind` names the failure. `error_for` turns a failure into the
`AwsError` the real service sends in a given wire protocol: IAM and STS (query) answer
`SignatureDoesNotMatch`/`InvalidClientTokenId`/... with 403 or 400, JSON and rest-JSON services the
`...Exception` forms, S3 (rest-xml) its own codes and extra `<Error>` members.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from podid.errors import AwsError

FailureKind = Literal[
    "missing-auth",
    "incomplete-signature",
    "unsupported-algorithm",
    "bad-scope",
    "headers-not-signed",
    "request-expired",
    "presign-expired",
    "unknown-key",
    "bad-token",
    "expired-token",
    "missing-token",
    "bad-signature",
    "missing-payload-hash",
    "invalid-payload-hash",
    "payload-hash-mismatch",
]


class SigV4Failure(Exception):
    """A refused signature. `kind` names the failure, `message` is the text most services send.

    `s3_message`/`s3_fields` carry S3's own wording and extra `<Error>` members where they differ;
    `presigned` says whether the query form was used (S3 names its errors after the form);
    `s3_code` overrides S3's (code, status) where one failure kind has several S3 answers.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        s3_message: str | None = None,
        s3_fields: Mapping[str, str] | None = None,
        presigned: bool = False,
        s3_code: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.s3_code = s3_code
        self.message = message
        self.s3_message = s3_message
        self.s3_fields: dict[str, str] = dict(s3_fields or {})
        self.presigned = presigned

    def __repr__(self) -> str:
        return f"SigV4Failure({self.kind!r}, {self.message!r})"


def unknown_key_failure(access_key_id: str) -> SigV4Failure:
    """For a `CredentialLookup`: the access key does not exist (or is inactive)."""
    return SigV4Failure(
        "unknown-key",
        "The security token included in the request is invalid.",
        s3_message="The AWS Access Key Id you provided does not exist in our records.",
        s3_fields={"AWSAccessKeyId": access_key_id},
    )


def bad_token_failure(presigned: bool = False) -> SigV4Failure:
    """For a `CredentialLookup`: the session token is malformed, tampered with or unknown."""
    return SigV4Failure(
        "bad-token",
        "The security token included in the request is invalid.",
        s3_message="The provided token is malformed or otherwise invalid.",
        presigned=presigned,
    )


def expired_token_failure() -> SigV4Failure:
    """For a `CredentialLookup`: the session token was valid but has expired."""
    return SigV4Failure(
        "expired-token",
        "The security token included in the request is expired",
        s3_message="The provided token has expired.",
    )


def payload_mismatch_failure(claimed: str, computed: str, presigned: bool) -> SigV4Failure:
    return SigV4Failure(
        "payload-hash-mismatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        s3_message="The provided 'x-amz-content-sha256' header does not match what was computed.",
        s3_fields={"ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": computed},
        presigned=presigned,
    )


# --------------------------------------------------------------------------- errors per protocol

# kind -> (query, json, rest-json) (code, status); rest-xml (S3) is handled apart.
_CODES: dict[str, tuple[tuple[str, int], tuple[str, int], tuple[str, int]]] = {
    "missing-auth": (
        ("MissingAuthenticationToken", 403),
        ("MissingAuthenticationTokenException", 400),
        ("MissingAuthenticationTokenException", 403),
    ),
    "incomplete-signature": (
        ("IncompleteSignature", 400),
        ("IncompleteSignatureException", 400),
        ("IncompleteSignatureException", 403),
    ),
    "unknown-key": (
        ("InvalidClientTokenId", 403),
        ("UnrecognizedClientException", 400),
        ("UnrecognizedClientException", 403),
    ),
    "bad-signature": (
        ("SignatureDoesNotMatch", 403),
        ("InvalidSignatureException", 400),
        ("InvalidSignatureException", 403),
    ),
    "expired-token": (("ExpiredToken", 403), ("ExpiredTokenException", 400), ("ExpiredTokenException", 403)),
}
_SAME_AS = {
    "unsupported-algorithm": "incomplete-signature",
    "headers-not-signed": "incomplete-signature",
    "missing-payload-hash": "incomplete-signature",
    "invalid-payload-hash": "incomplete-signature",
    "bad-scope": "bad-signature",
    "request-expired": "bad-signature",
    "presign-expired": "bad-signature",
    "payload-hash-mismatch": "bad-signature",
    "bad-token": "unknown-key",
    "missing-token": "unknown-key",
}
_S3_CODES: dict[str, tuple[str, int]] = {
    "missing-auth": ("AccessDenied", 403),
    "unsupported-algorithm": ("InvalidRequest", 400),
    "headers-not-signed": ("AccessDenied", 403),
    "request-expired": ("RequestTimeTooSkewed", 403),
    "presign-expired": ("AccessDenied", 403),
    "unknown-key": ("InvalidAccessKeyId", 403),
    "missing-token": ("InvalidAccessKeyId", 403),
    "bad-token": ("InvalidToken", 400),
    "expired-token": ("ExpiredToken", 400),
    "bad-signature": ("SignatureDoesNotMatch", 403),
    "missing-payload-hash": ("InvalidRequest", 400),
    "invalid-payload-hash": ("InvalidArgument", 400),
    "payload-hash-mismatch": ("XAmzContentSHA256Mismatch", 400),
}


_S3_DEFAULT_MESSAGES = {
    "unknown-key": "The AWS Access Key Id you provided does not exist in our records.",
    "bad-token": "The provided token is malformed or otherwise invalid.",
    "expired-token": "The provided token has expired.",
}


def error_for(failure: SigV4Failure, protocol: str) -> AwsError:
    """The `AwsError` the real service sends for `failure` in a protocol.

    `protocol` is botocore's name: `query` (IAM, STS), `json`, `rest-json` (EKS, EKS Auth) or
    `rest-xml` (S3).
    """
    if protocol == "rest-xml":
        return _s3_error(failure)
    column = {"query": 0, "ec2": 0, "json": 1, "rest-json": 2}.get(protocol)
    if column is None:
        raise ValueError(f"unknown protocol {protocol!r}")
    kind = _SAME_AS.get(failure.kind, failure.kind)
    code, status = _CODES[kind][column]
    return AwsError(failure.message, code=code, status=status, sender_fault=True)


def _s3_error(failure: SigV4Failure) -> AwsError:
    message = failure.s3_message or failure.message
    fields = dict(failure.s3_fields)
    kind = failure.kind
    if failure.s3_code is not None:
        code, status = failure.s3_code
    elif kind in ("incomplete-signature", "bad-scope"):
        code, status = (
            ("AuthorizationQueryParametersError" if failure.presigned else "AuthorizationHeaderMalformed"),
            400,
        )
    elif kind == "unsupported-algorithm" and failure.presigned:
        code, status = "AuthorizationQueryParametersError", 400
    elif kind == "request-expired" and failure.presigned:
        code, status = "AccessDenied", 403
    else:
        code, status = _S3_CODES[kind]
    if failure.s3_message is None and kind in _S3_DEFAULT_MESSAGES:
        message = _S3_DEFAULT_MESSAGES[kind]
    return AwsError(message, code=code, status=status, sender_fault=True, fields=fields)
