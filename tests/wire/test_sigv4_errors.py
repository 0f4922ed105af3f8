"""`error_for`: every failure kind in every protocol gets the code and status AWS sends."""

from __future__ import annotations

from typing import get_args

import pytest

from podid.wire.sigv4 import (
    FailureKind,
    SigV4Failure,
    bad_token_failure,
    error_for,
    expired_token_failure,
    unknown_key_failure,
)

# kind -> {protocol: (code, status)}; S3 header-auth form.
EXPECTED: dict[str, dict[str, tuple[str, int]]] = {
    "missing-auth": {
        "query": ("MissingAuthenticationToken", 403),
        "json": ("MissingAuthenticationTokenException", 400),
        "rest-json": ("MissingAuthenticationTokenException", 403),
        "rest-xml": ("AccessDenied", 403),
    },
    "incomplete-signature": {
        "query": ("IncompleteSignature", 400),
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 403),
        "rest-xml": ("AuthorizationHeaderMalformed", 400),
    },
    "unsupported-algorithm": {
        "query": ("IncompleteSignature", 400),
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 403),
        "rest-xml": ("InvalidRequest", 400),
    },
    "bad-scope": {
        "query": ("SignatureDoesNotMatch", 403),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "rest-xml": ("AuthorizationHeaderMalformed", 400),
    },
    "headers-not-signed": {
        "query": ("IncompleteSignature", 400),
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 403),
        "rest-xml": ("AccessDenied", 403),
    },
    "request-expired": {
        "query": ("SignatureDoesNotMatch", 403),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "rest-xml": ("RequestTimeTooSkewed", 403),
    },
    "presign-expired": {
        "query": ("SignatureDoesNotMatch", 403),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "rest-xml": ("AccessDenied", 403),
    },
    "unknown-key": {
        "query": ("InvalidClientTokenId", 403),
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "rest-xml": ("InvalidAccessKeyId", 403),
    },
    "bad-token": {
        "query": ("InvalidClientTokenId", 403),
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "rest-xml": ("InvalidToken", 400),
    },
    "expired-token": {
        "query": ("ExpiredToken", 403),
        "json": ("ExpiredTokenException", 400),
        "rest-json": ("ExpiredTokenException", 403),
        "rest-xml": ("ExpiredToken", 400),
    },
    "missing-token": {
        "query": ("InvalidClientTokenId", 403),
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "rest-xml": ("InvalidAccessKeyId", 403),
    },
    "bad-signature": {
        "query": ("SignatureDoesNotMatch", 403),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "rest-xml": ("SignatureDoesNotMatch", 403),
    },
    "missing-payload-hash": {"rest-xml": ("InvalidRequest", 400)},
    "invalid-payload-hash": {"rest-xml": ("InvalidArgument", 400)},
    "payload-hash-mismatch": {
        "query": ("SignatureDoesNotMatch", 403),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "rest-xml": ("XAmzContentSHA256Mismatch", 400),
    },
}


def test_every_kind_is_covered() -> None:
    assert set(EXPECTED) == set(get_args(FailureKind))


@pytest.mark.parametrize(
    ("kind", "protocol"), [(k, p) for k, table in EXPECTED.items() for p in table], ids=lambda v: str(v)
)
def test_code_and_status(kind: FailureKind, protocol: str) -> None:
    error = error_for(SigV4Failure(kind, "message", s3_message="s3 message"), protocol)
    assert (error.code, error.status) == EXPECTED[kind][protocol]
    assert error.sender_fault
    assert error.message == ("s3 message" if protocol == "rest-xml" else "message")


def test_s3_presigned_forms() -> None:
    kinds: list[FailureKind] = ["incomplete-signature", "bad-scope", "unsupported-algorithm"]
    for kind in kinds:
        error = error_for(SigV4Failure(kind, "m", presigned=True), "rest-xml")
        assert (error.code, error.status) == ("AuthorizationQueryParametersError", 400)
    not_yet = error_for(
        SigV4Failure("request-expired", "Request is not valid yet", presigned=True), "rest-xml"
    )
    assert (not_yet.code, not_yet.status) == ("AccessDenied", 403)


def test_lookup_failures_carry_each_protocols_message() -> None:
    assert error_for(unknown_key_failure("AKIAX"), "query").message == (
        "The security token included in the request is invalid."
    )
    s3 = error_for(unknown_key_failure("AKIAX"), "rest-xml")
    assert s3.message == "The AWS Access Key Id you provided does not exist in our records."
    assert s3.fields == {"AWSAccessKeyId": "AKIAX"}
    assert (
        error_for(expired_token_failure(), "query").message
        == "The security token included in the request is expired"
    )
    assert error_for(expired_token_failure(), "rest-xml").message == "The provided token has expired."
    assert (
        error_for(bad_token_failure(), "rest-xml").message
        == "The provided token is malformed or otherwise invalid."
    )
    # a lookup that raises a bare failure still gets S3's wording
    assert (
        error_for(SigV4Failure("expired-token", "x"), "rest-xml").message == "The provided token has expired."
    )


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        error_for(SigV4Failure("bad-signature", "m"), "smithy-rpc-v3")
