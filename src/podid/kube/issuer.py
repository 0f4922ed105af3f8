"""A cluster's service-account token issuer: signs and verifies projected-token JWTs, serves OIDC.

One `TokenIssuer` per cluster, built from the cluster's persisted RSA private key (PEM) and its
issuer URL. It produces exactly what kube-apiserver produces for a projected service-account token
(reference §4.4): header `{"alg":"RS256","kid":<kid>}` (no `typ`), claims `aud`, `exp`, `iat`,
`iss`, `kubernetes.io` (namespace, pod name/uid when bound to a pod, service account name/uid),
`nbf`, `sub = system:serviceaccount:<ns>:<sa>`.

`verify` is the strict verifier EKS Auth uses: the header must say `RS256` (never `none`, never an
HMAC algorithm), `kid` must be this issuer's key, the signature must verify with the public key,
`iss` must equal the issuer URL exactly, `aud` must contain the wanted audience, `exp`/`nbf` hold
within `leeway_s` (60 s by default, go-jose's `DefaultLeeway` that kube-apiserver uses), `sub` must
have the service-account form and agree with the `kubernetes.io` claims. Failures raise a
`TokenError` subclass; messages never include the token.

The key id is kube-apiserver's: base64url (no padding) of SHA-256 over the DER SubjectPublicKeyInfo.
Signing and verification use `cryptography` directly (no JWT library), so the accepted algorithm set
is exactly one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DEFAULT_LEEWAY_S = 60
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_SUB = re.compile(r"^system:serviceaccount:([^:]+):([^:]+)$")
_MAX_TOKEN_LEN = 16384


class TokenError(Exception):
    """A token that must not be honoured; `message` is safe to show (never contains the token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TokenInvalid(TokenError):
    """Malformed, badly signed, for another issuer or audience, or missing required claims."""


class TokenExpired(TokenError):
    """Well-formed and correctly signed, but past `exp` (beyond the leeway)."""


class TokenNotYetValid(TokenInvalid):
    """Well-formed and correctly signed, but before `nbf`/`iat` (beyond the leeway)."""


def generate_signing_key() -> bytes:
    """A new RSA 2048 private key as unencrypted PKCS#8 PEM (what a cluster persists)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def key_id_for(public_key: rsa.RSAPublicKey) -> str:
    """kube-apiserver's key id: base64url(sha256(DER SubjectPublicKeyInfo)) without padding."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64e(hashlib.sha256(der).digest())


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not _SEGMENT.match(text):
        raise TokenInvalid("The token is not a well-formed JWT: a segment is not base64url.")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("The token is not a well-formed JWT: a segment is not base64url.") from exc


def _int_b64(value: int) -> str:
    return _b64e(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _json_segment(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64d(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenInvalid(f"The token is not a well-formed JWT: the {what} is not JSON.") from exc
    if not isinstance(value, dict):
        raise TokenInvalid(f"The token is not a well-formed JWT: the {what} is not a JSON object.")
    return value


def _numeric(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid(f"The token's {name} claim is not a number.")
    return int(value)


class TokenIssuer:
    """Issues and verifies one cluster's service-account tokens; serves its OIDC documents."""

    def __init__(self, private_key_pem: bytes, issuer_url: str, kid: str | None = None) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a cluster signing key must be an RSA private key")
        self._key = key
        self._public = key.public_key()
        self.issuer_url = issuer_url
        self.kid = kid or key_id_for(self._public)

    # --- issuing -------------------------------------------------------------------------------
    def claims(
        self,
        namespace: str,
        service_account: str,
        *,
        audience: Sequence[str],
        duration_s: int,
        pod_name: str | None = None,
        pod_uid: str | None = None,
        sa_uid: str | None = None,
        now: datetime,
    ) -> dict[str, Any]:
        """The claim set of a projected token (keys in kube-apiserver's order, which is sorted)."""
        if duration_s <= 0:
            raise ValueError("duration_s must be positive")
        iat = int(now.timestamp())
        k8s: dict[str, Any] = {"namespace": namespace}
        if pod_name is not None:
            k8s["pod"] = {"name": pod_name, "uid": pod_uid or str(uuid.uuid4())}
        k8s["serviceaccount"] = {
            "name": service_account,
            "uid": sa_uid or self.default_sa_uid(namespace, service_account),
        }
        return {
            "aud": list(audience),
            "exp": iat + duration_s,
            "iat": iat,
            "iss": self.issuer_url,
            "kubernetes.io": k8s,
            "nbf": iat,
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
        }

    def default_sa_uid(self, namespace: str, service_account: str) -> str:
        """A stable service-account uid when the caller has none (same SA, same uid, per issuer)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.issuer_url}#{namespace}/{service_account}"))

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign an arbitrary claim set with this issuer's key (RS256, this kid)."""
        header = {"alg": "RS256", "kid": self.kid}
        signing_input = (
            _b64e(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64e(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64e(signature)

    def issue(
        self,
        namespace: str,
        service_account: str,
        *,
        audience: Sequence[str],
        duration_s: int,
        pod_name: str | None = None,
        pod_uid: str | None = None,
        sa_uid: str | None = None,
        now: datetime,
    ) -> str:
        """An RS256 JWT with exactly the claims of a projected service-account token."""
        return self.sign(
            self.claims(
                namespace,
                service_account,
                audience=audience,
                duration_s=duration_s,
                pod_name=pod_name,
                pod_uid=pod_uid,
                sa_uid=sa_uid,
                now=now,
            )
        )

    # --- verifying -----------------------------------------------------------------------------
    def verify(
        self, token: str, *, audience: str, now: datetime, leeway_s: int = DEFAULT_LEEWAY_S
    ) -> dict[str, Any]:
        """The verified claims of `token`, or a `TokenError` saying why it is refused."""
        if not token or len(token) > _MAX_TOKEN_LEN:
            raise TokenInvalid("The token is not a well-formed JWT.")
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise TokenInvalid("The token is not a well-formed JWT: it must have three segments.")
        header = _json_segment(parts[0], "header")
        alg = header.get("alg")
        if alg != "RS256":
            raise TokenInvalid(f"The token's signing algorithm {alg!s:.20} is not accepted; only RS256 is.")
        if "crit" in header:
            raise TokenInvalid("The token carries critical header parameters, which are not supported.")
        if header.get("kid") != self.kid:
            raise TokenInvalid("The token was not signed by a key of this cluster's issuer (unknown kid).")
        signature = _b64d(parts[2])
        try:
            self._public.verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError) as exc:
            raise TokenInvalid("The token's signature does not verify with the cluster's key.") from exc
        claims = _json_segment(parts[1], "payload")
        self._check_claims(claims, audience=audience, now=now, leeway_s=leeway_s)
        return claims

    def _check_claims(self, claims: dict[str, Any], *, audience: str, now: datetime, leeway_s: int) -> None:
        if claims.get("iss") != self.issuer_url:
            raise TokenInvalid("The token was issued by another issuer than this cluster's.")
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if audience not in auds:
            raise TokenInvalid(f"The token's audience does not include {audience}.")
        at = int(now.timestamp())
        exp = _numeric(claims, "exp")
        if exp is None:
            raise TokenInvalid("The token has no exp claim.")
        if at > exp + leeway_s:
            raise TokenExpired("The specified Kubernetes service account token is expired.")
        nbf = _numeric(claims, "nbf")
        iat = _numeric(claims, "iat")
        if (nbf is not None and at + leeway_s < nbf) or (iat is not None and at + leeway_s < iat):
            raise TokenNotYetValid("The token is not valid yet (nbf/iat in the future).")
        sub = claims.get("sub")
        match = _SUB.match(sub) if isinstance(sub, str) else None
        if match is None:
            raise TokenInvalid("The token's sub claim is not a Kubernetes service account.")
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            raise TokenInvalid("The token has no kubernetes.io claim.")
        sa = k8s.get("serviceaccount")
        if (
            k8s.get("namespace") != match.group(1)
            or not isinstance(sa, dict)
            or sa.get("name") != match.group(2)
            or not isinstance(sa.get("uid"), str)
        ):
            raise TokenInvalid("The token's kubernetes.io claims do not match its subject.")
        pod = k8s.get("pod")
        if pod is not None and (
            not isinstance(pod, dict)
            or not isinstance(pod.get("name"), str)
            or not isinstance(pod.get("uid"), str)
        ):
            raise TokenInvalid("The token's kubernetes.io pod claim is malformed.")

    # --- OIDC documents ------------------------------------------------------------------------
    @property
    def jwks_uri(self) -> str:
        return self.issuer_url + "/keys"

    def discovery_document(self) -> dict[str, Any]:
        """`<issuer>/.well-known/openid-configuration`, as EKS's OIDC endpoint serves it."""
        return {
            "issuer": self.issuer_url,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "iss"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set with this issuer's public key (RFC 7517)."""
        numbers = self._public.public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "e": _int_b64(numbers.e),
                    "use": "sig",
                    "kid": self.kid,
                    "alg": "RS256",
                    "n": _int_b64(numbers.n),
                }
            ]
        }
