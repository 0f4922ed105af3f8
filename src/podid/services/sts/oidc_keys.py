"""The verification keys of OIDC issuers, for AssumeRoleWithWebIdentity: local first, else fetched.

`IssuerKeys.keys(issuer, kid)` returns the JWKS key with that `kid` or raises why it cannot:

- **local issuers** (the clusters of this very endpoint: `iss` = `<endpoint>/oidc/id/<ID>`) are
  resolved in-process through the `local` callback (the gateway passes one built on the EKS domain:
  `cluster_by_issuer_id` + `issuer_for(cluster).jwks()`). The endpoint is one asyncio loop, so
  fetching its own URL synchronously from a handler would deadlock; asking the domain also avoids a
  needless HTTP round trip;
- **foreign issuers** are fetched the way STS does, asynchronously with aiohttp (short timeouts):
  `<iss>/.well-known/openid-configuration`, then its `jwks_uri`. The JWKS is cached per issuer for the
  response's `Cache-Control: max-age` (default `DEFAULT_TTL_S`, at most `MAX_TTL_S`), and refetched
  before expiry when a token names an unknown `kid` (key rotation), at most once per
  `refetch_interval_s` per issuer so that hostile tokens cannot turn STS into a fetch amplifier.

Failures: the issuer cannot be reached (connection refused, timeout, HTTP 5xx) -> `IdpUnreachable`
(STS answers `IDPCommunicationError`, which botocore retries); the issuer answers but offers no usable
key (HTTP 4xx, not JSON, no such `kid`) -> `KeyUnavailable` (`InvalidIdentityToken` "Couldn't retrieve
verification key from your identity provider, ...").
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_TTL_S = 3600.0
MAX_TTL_S = 24 * 3600.0
FETCH_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024
_MAX_AGE = re.compile(r"max-age=(\d+)")

Jwks = Mapping[str, Any]
LocalKeys = Callable[[str], Jwks | None]  # issuer URL -> its JWKS when the issuer is local, else None


class IdpUnreachable(Exception):
    """The issuer's discovery document or JWKS could not be fetched (transient)."""


class KeyUnavailable(Exception):
    """The issuer offers no usable key for the token (no such kid, bad documents)."""


@dataclass
class _Cached:
    keys: dict[str, dict[str, Any]]  # kid -> JWK
    expires: float
    fetched: float


def index_keys(jwks: Jwks) -> dict[str, dict[str, Any]]:
    """JWKs by `kid` (keys without `kid` are filed under ""), signature keys only."""
    out: dict[str, dict[str, Any]] = {}
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    for jwk in keys if isinstance(keys, list) else []:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid", "")
        if isinstance(kid, str):
            out.setdefault(kid, jwk)
    return out


class IssuerKeys:
    """Keys of local and foreign issuers, with the per-issuer cache of fetched JWKS."""

    def __init__(
        self,
        local: LocalKeys | None = None,
        *,
        refetch_interval_s: float = 30.0,
        timeout_s: float = FETCH_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.local = local
        self.refetch_interval_s = refetch_interval_s
        self.timeout_s = timeout_s
        self.monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, issuer: str | None = None) -> None:
        """Drop the cached JWKS of `issuer` (of every issuer when None): the next token refetches."""
        if issuer is None:
            self._cache.clear()
        else:
            self._cache.pop(issuer, None)

    async def key(self, issuer: str, kid: str) -> dict[str, Any]:
        """The JWK `kid` of `issuer`; raises `KeyUnavailable` or `IdpUnreachable`."""
        if self.local is not None:
            local = self.local(issuer)
            if local is not None:
                found = index_keys(local).get(kid)
                if found is None:
                    raise KeyUnavailable(f"the issuer has no key {kid!r}")
                return found
        now = self.monotonic()
        cached = self._cache.get(issuer)
        if cached is not None and cached.expires > now and kid in cached.keys:
            return cached.keys[kid]
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            cached = self._cache.get(issuer)
            now = self.monotonic()
            stale = cached is None or cached.expires <= now
            may_refetch = cached is None or now - cached.fetched >= self.refetch_interval_s
            if stale or (kid not in cached.keys and may_refetch):  # type: ignore[union-attr]
                keys, ttl = await self._fetch(issuer)
                cached = _Cached(keys, now + ttl, now)
                self._cache[issuer] = cached
        assert cached is not None
        found = cached.keys.get(kid)
        if found is None:
            raise KeyUnavailable(f"the issuer has no key {kid!r}")
        return found

    async def _fetch(self, issuer: str) -> tuple[dict[str, dict[str, Any]], float]:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                discovery, _ = await _get_json(
                    session, issuer.rstrip("/") + "/.well-known/openid-configuration"
                )
                jwks_uri = discovery.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                    raise KeyUnavailable("the discovery document has no usable jwks_uri")
                jwks, ttl = await _get_json(session, jwks_uri)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise IdpUnreachable(f"{type(exc).__name__}: {exc}") from None
        return index_keys(jwks), ttl


async def _get_json(session: Any, url: str) -> tuple[dict[str, Any], float]:
    async with session.get(url, allow_redirects=False, headers={"Accept": "application/json"}) as resp:
        if resp.status >= 500:
            raise IdpUnreachable(f"{url} answered HTTP {resp.status}")
        if resp.status != 200:
            raise KeyUnavailable(f"{url} answered HTTP {resp.status}")
        body = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise KeyUnavailable(f"{url} answered a document larger than {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise KeyUnavailable(f"{url} did not answer JSON") from None
        if not isinstance(document, dict):
            raise KeyUnavailable(f"{url} did not answer a JSON object")
        ttl = DEFAULT_TTL_S
        match = _MAX_AGE.search(resp.headers.get("Cache-Control", ""))
        if match is not None:
            ttl = min(float(match.group(1)), MAX_TTL_S)
        return document, ttl


class ClusterIssuers(Protocol):
    """What `cluster_issuer_keys` needs of the EKS domain (its public API)."""

    def issuer_base_url(self) -> str: ...

    def cluster_by_issuer_id(self, issuer_id: str) -> Any: ...

    def issuer_url(self, cluster: Any) -> str: ...

    def issuer_for(self, cluster: Any) -> Any: ...


_LOCAL_ISSUER = re.compile(r"/oidc/id/([0-9A-F]{32})$")


def cluster_issuer_keys(eks: ClusterIssuers) -> LocalKeys:
    """`LocalKeys` for the clusters of this endpoint: an issuer under the endpoint's own
    `/oidc/id/` answers from the EKS domain (an unknown or deleted cluster has no keys), never over
    the network."""

    def local(issuer: str) -> Jwks | None:
        if not issuer.startswith(eks.issuer_base_url().rstrip("/") + "/oidc/id/"):
            return None
        match = _LOCAL_ISSUER.search(issuer)
        cluster = eks.cluster_by_issuer_id(match.group(1)) if match else None
        if cluster is None or eks.issuer_url(cluster) != issuer:
            return {"keys": []}
        jwks: Jwks = eks.issuer_for(cluster).jwks()
        return jwks

    return local
