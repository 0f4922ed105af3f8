"""Stage 1 of the pipeline: which AWS service does a request address?

A signed request names its service in the SigV4 credential scope; that is the answer whenever it is
present (the signature check then proves it). An unsigned request (only AssumeRoleWithWebIdentity
and AssumeRoleWithSAML are legitimately unsigned, and presigned S3 URLs carry their scope in the
query) is classified by its shape, only so that the refusal is sent in the right protocol.
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs

from podid.wire.http import HttpRequest

# SigV4 signing name -> botocore service name
SIGNING_NAMES: dict[str, str] = {
    "iam": "iam",
    "sts": "sts",
    "eks": "eks",
    "eks-auth": "eks-auth",
    "s3": "s3",
    "cloudformation": "cloudformation",
}

# query-protocol API versions -> service
QUERY_VERSIONS: dict[str, str] = {
    "2010-05-08": "iam",
    "2011-06-15": "sts",
    "2010-05-15": "cloudformation",
}


def service_from_shape(request: HttpRequest) -> str:
    """Best guess of the service for a request with no credential scope."""
    path = request.path.split("?", 1)[0]
    if path.startswith("/clusters/") and path.endswith("/assume-role-for-pod-identity"):
        return "eks-auth"
    if path.startswith(("/clusters", "/addons", "/tags/", "/cluster-registrations")):
        return "eks"
    params = parse_qs(request.query)
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and "x-www-form-urlencoded" in content_type:
        with contextlib.suppress(UnicodeDecodeError):
            params.update(parse_qs(request.body.decode("utf-8")))
    if "Action" in params:
        version = params.get("Version", [""])[0]
        if version in QUERY_VERSIONS:
            return QUERY_VERSIONS[version]
        action = params["Action"][0]
        if action.startswith(("AssumeRole", "GetCallerIdentity", "GetSessionToken")):
            return "sts"
        return "iam"
    return "s3"
