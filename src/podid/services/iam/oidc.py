"""IAM OIDC identity providers: the registry AssumeRoleWithWebIdentity trusts (IRSA reference §1).

A provider is keyed by its URL without the scheme ("host/path", case-sensitive, no normalization of
slashes or case), which is also what its ARN ends with:
`arn:aws:iam::<account>:oidc-provider/<host><path>`. Rules, as IAM applies them:

- the URL must begin with `https://`, may carry a path, must not carry a query or fragment;
  an explicit `:443` is dropped (eksctl sends `https://host:443/id/X` and later finds the provider by
  the port-less ARN, which works on AWS);
- **podid's one extension**: `http://` is accepted for loopback hosts (127.0.0.0/8, `localhost`,
  `[::1]`), because the issuers of podid's local clusters are served by the endpoint itself over
  plain http (`identity.oidc.issuer` = `http://127.0.0.1:<port>/oidc/id/<ID>`); their port is kept;
- `Get` returns `Url` without the scheme; a second provider with the same URL is `EntityAlreadyExists`
  409 `Provider with url <url> already exists.`;
- ClientIDList: each 1–255 characters (wire), duplicates collapse, at most 100 (`LimitExceeded`);
  AddClientID and RemoveClientID are idempotent;
- ThumbprintList: optional (IAM then uses the CA it trusts; podid does not check TLS for loopback
  issuers and fetches foreign JWKS with the system trust store), each exactly 40 hex digits, at most 5
  (`InvalidInput`); UpdateThumbprint replaces the list; lower/upper case kept as given;
- at most 100 providers per account (`LimitExceeded`), 50 tags (the IAM tag rules of `check_tags`);
- trusted identity propagation (`ContextProvider`, `IdentityCenterInstanceArn`) is refused with
  `InvalidInput`: podid has no IAM Identity Center.

Messages AWS has not been seen to send are podid's choice (see docs/irsa-to-pod-identity.md).
Table `iam.oidc`: "<account>/<url without scheme>" -> provider document.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from podid.services.iam.common import IamCore, check_tags
from podid.services.iam.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from podid.services.iam.model import Tags, from_iso, iso

OIDC = "iam.oidc"
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
MAX_PROVIDERS = 100
_ARN = re.compile(r"^arn:aws:iam::(\d{12}):oidc-provider/(.+)$")
_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")


@dataclass(frozen=True)
class OidcProvider:
    account: str
    url: str  # without the scheme: host[:port][/path]
    scheme: str  # "https", or "http" for a loopback issuer
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    create_date: datetime
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:oidc-provider/{self.url}"

    @property
    def issuer(self) -> str:
        """The `iss` its tokens carry."""
        return f"{self.scheme}://{self.url}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "url": self.url,
            "scheme": self.scheme,
            "client_ids": list(self.client_ids),
            "thumbprints": list(self.thumbprints),
            "created": iso(self.create_date),
            "tags": [list(t) for t in self.tags],
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> OidcProvider:
        return cls(
            account=doc["account"],
            url=doc["url"],
            scheme=doc.get("scheme", "https"),
            client_ids=tuple(doc["client_ids"]),
            thumbprints=tuple(doc["thumbprints"]),
            create_date=from_iso(doc["created"]),
            tags=tuple((str(k), str(v)) for k, v in doc.get("tags") or ()),
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> tuple[str, str]:
    """`(scheme, url without scheme)` of a provider URL or an `iss` claim; raises `InvalidInput`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"Invalid Url {url}: the url is not well formed.") from None
    host = parts.hostname or ""
    scheme = parts.scheme
    if not url.startswith(("https://", "http://")) or not host:
        raise InvalidInput(f"Invalid Url {url}: the url must begin with https://")
    if scheme == "http" and not _is_loopback(host):
        raise InvalidInput(f"Invalid Url {url}: the url must begin with https://")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidInput(f"Invalid Url {url}: the url must not contain a query or a fragment.")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"Invalid Url {url}: the url must not contain credentials.")
    netloc = parts.netloc
    if scheme == "https" and port == 443:
        netloc = netloc.rsplit(":", 1)[0]
    return scheme, netloc + parts.path


def provider_arn(account: str, url: str) -> str:
    """The ARN IAM gives the provider of `url` (with or without its scheme) in `account`."""
    if "://" in url:
        url = normalize_url(url)[1]
    return f"arn:aws:iam::{account}:oidc-provider/{url}"


def parse_provider_arn(arn: str) -> tuple[str, str]:
    """`(account, url without scheme)` of an OIDC provider ARN; raises `InvalidInput`."""
    match = _ARN.match(arn)
    if match is None:
        raise InvalidInput(f"ARN {arn} is not valid.")
    return match.group(1), match.group(2)


def _dedupe(values: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return tuple(seen)


def _check_thumbprints(thumbprints: Sequence[str]) -> tuple[str, ...]:
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise InvalidInput(f"Thumbprint list must contain fewer than {MAX_THUMBPRINTS + 1} entries.")
    for thumbprint in thumbprints:
        if not _THUMBPRINT.match(thumbprint):
            raise InvalidInput(
                f"Thumbprint {thumbprint} is not valid: a thumbprint is the 40 hexadecimal digits "
                "of a certificate's SHA-1 fingerprint."
            )
    return _dedupe(thumbprints)


def _check_client_ids(client_ids: Sequence[str]) -> tuple[str, ...]:
    unique = _dedupe(client_ids)
    if len(unique) > MAX_CLIENT_IDS:
        raise LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
    return unique


class OidcProviderOps(IamCore):
    """The OIDC provider half of `IamDomain`."""

    def _oidc_key(self, account: str, url: str) -> str:
        return f"{account}/{url}"

    def find_oidc_provider(self, arn: str) -> OidcProvider | None:
        try:
            account, url = parse_provider_arn(arn)
        except InvalidInput:
            return None
        return self._load(OIDC, self._oidc_key(account, url), OidcProvider.from_doc)

    def get_oidc_provider(self, account: str, arn: str) -> OidcProvider:
        owner, url = parse_provider_arn(arn)
        found = (
            self._load(OIDC, self._oidc_key(owner, url), OidcProvider.from_doc) if owner == account else None
        )
        if found is None:
            raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")
        return found

    def oidc_provider_for_issuer(self, account: str, issuer: str) -> OidcProvider | None:
        """The provider of `account` whose URL is the token's `iss` (same scheme), or None."""
        try:
            scheme, url = normalize_url(issuer)
        except InvalidInput:
            return None
        found = self._load(OIDC, self._oidc_key(account, url), OidcProvider.from_doc)
        if found is None or found.scheme != scheme:
            return None
        return found

    def list_oidc_providers(self, account: str) -> list[OidcProvider]:
        providers = [OidcProvider.from_doc(doc) for _, doc in self.store.scan(OIDC, f"{account}/")]
        return sorted(providers, key=lambda p: p.arn)

    def create_oidc_provider(
        self,
        account: str,
        url: str,
        client_ids: Sequence[str] = (),
        thumbprints: Sequence[str] = (),
        tags: Sequence[tuple[str, str]] = (),
    ) -> OidcProvider:
        scheme, path = normalize_url(url)
        ids = _check_client_ids(client_ids)
        prints = _check_thumbprints(thumbprints)
        merged = check_tags(tags)
        with self.store.transaction():
            if self.store.get(OIDC, self._oidc_key(account, path)) is not None:
                raise EntityAlreadyExists(f"Provider with url {url} already exists.")
            if self.store.count(OIDC, f"{account}/") >= MAX_PROVIDERS:
                raise LimitExceeded(
                    f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}"
                )
            provider = OidcProvider(account, path, scheme, ids, prints, self.clock.now(), merged)
            self._save_oidc(provider)
        return provider

    def _save_oidc(self, provider: OidcProvider) -> None:
        self.store.put(OIDC, self._oidc_key(provider.account, provider.url), provider.to_doc())

    def delete_oidc_provider(self, account: str, arn: str) -> None:
        provider = self.get_oidc_provider(account, arn)
        self.store.delete(OIDC, self._oidc_key(account, provider.url))

    def add_client_id(self, account: str, arn: str, client_id: str) -> None:
        provider = self.get_oidc_provider(account, arn)
        if client_id in provider.client_ids:
            return
        ids = _check_client_ids((*provider.client_ids, client_id))
        self._save_oidc(replace(provider, client_ids=ids))

    def remove_client_id(self, account: str, arn: str, client_id: str) -> None:
        provider = self.get_oidc_provider(account, arn)
        ids = tuple(c for c in provider.client_ids if c != client_id)
        if ids != provider.client_ids:
            self._save_oidc(replace(provider, client_ids=ids))

    def update_thumbprints(self, account: str, arn: str, thumbprints: Sequence[str]) -> None:
        provider = self.get_oidc_provider(account, arn)
        self._save_oidc(replace(provider, thumbprints=_check_thumbprints(thumbprints)))

    def tag_oidc_provider(self, account: str, arn: str, tags: Sequence[tuple[str, str]]) -> None:
        provider = self.get_oidc_provider(account, arn)
        self._save_oidc(replace(provider, tags=check_tags(tags, provider.tags)))

    def untag_oidc_provider(self, account: str, arn: str, keys: Sequence[str]) -> None:
        provider = self.get_oidc_provider(account, arn)
        drop = {k.lower() for k in keys}
        self._save_oidc(
            replace(provider, tags=tuple((k, v) for k, v in provider.tags if k.lower() not in drop))
        )
