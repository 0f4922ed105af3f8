"""Service detection for requests without a credential scope (only to answer in the right protocol)."""

from __future__ import annotations

import pytest

from podid.gateway.detect import service_from_shape
from podid.wire.http import Headers, HttpRequest


def _req(method: str, path: str, query: str = "", body: bytes = b"", ctype: str = "") -> HttpRequest:
    headers = Headers({"Content-Type": ctype} if ctype else {})
    return HttpRequest(method=method, path=path, query=query, headers=headers, body=body)


FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.mark.parametrize(
    ("request_", "service"),
    [
        (_req("POST", "/clusters/demo/assume-role-for-pod-identity"), "eks-auth"),
        (_req("GET", "/clusters/demo/pod-identity-associations"), "eks"),
        (_req("POST", "/", body=b"Action=GetCallerIdentity&Version=2011-06-15", ctype=FORM), "sts"),
        (_req("POST", "/", body=b"Action=CreateRole&Version=2010-05-08", ctype=FORM), "iam"),
        (_req("POST", "/", body=b"Action=CreateStack&Version=2010-05-15", ctype=FORM), "cloudformation"),
        (_req("GET", "/", query="Action=GetCallerIdentity&Version=2011-06-15"), "sts"),
        (_req("POST", "/", body=b"Action=AssumeRoleWithWebIdentity", ctype=FORM), "sts"),
        (_req("GET", "/my-bucket/key"), "s3"),
        (_req("PUT", "/my-bucket"), "s3"),
    ],
)
def test_service_from_shape(request_: HttpRequest, service: str) -> None:
    assert service_from_shape(request_) == service


def test_undecodable_form_body_falls_back_to_s3() -> None:
    assert service_from_shape(_req("POST", "/", body=b"\xff\xfe", ctype=FORM)) == "s3"
