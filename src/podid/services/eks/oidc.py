"""The clusters' OIDC documents, served by the gateway without authentication.

Paths (relative to the endpoint's base URL, matching `identity.oidc.issuer`):
  GET /oidc/id/<ID>/.well-known/openid-configuration  -> the discovery document
  GET /oidc/id/<ID>/keys                              -> the JWKS (the document's `jwks_uri`)

`oidc_document(domain, path)` is a pure lookup: it returns `(status, json body)` for a path under
`/oidc/`, or None when the path is not an OIDC path at all (so the gateway can fall through).
Unknown cluster ids and other sub-paths answer 404 with a small JSON body.
"""

from __future__ import annotations

import re
from typing import Any

from podid.services.eks.domain import EksDomain

OIDC_PREFIX = "/oidc/id/"
_PATH = re.compile(r"^/oidc/id/([0-9A-F]{32})(/\.well-known/openid-configuration|/keys)$")

NOT_FOUND: dict[str, Any] = {"message": "Not Found"}


def oidc_document(domain: EksDomain, path: str) -> tuple[int, dict[str, Any]] | None:
    """`(status, document)` for an OIDC path of one of the clusters, or None outside `/oidc/id/`."""
    if not path.startswith(OIDC_PREFIX):
        return None
    match = _PATH.match(path)
    if match is None:
        return 404, NOT_FOUND
    cluster = domain.cluster_by_issuer_id(match.group(1))
    if cluster is None:
        return 404, NOT_FOUND
    issuer = domain.issuer_for(cluster)
    if match.group(2) == "/keys":
        return 200, issuer.jwks()
    return 200, issuer.discovery_document()
