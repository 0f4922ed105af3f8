"""Self-contained session tokens: the whole session, AES-GCM encrypted and authenticated.

A token carries everything a temporary credential means (access key id, secret, account, role,
session name, tags, session policies, expiry...), so verifying a request signed with temporary
credentials needs no store read, and AssumeRole needs no store write. Layout (then base64url, no
padding): version byte 0x01 | 12-byte random nonce | AES-256-GCM(zlib(JSON)), with the version byte
as associated data. Any change to a byte fails authentication (`TokenInvalid`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from podid.services.base import SessionInfo
from podid.services.sts.packing import deflate9

_VERSION = b"\x01"
_NONCE = 12
_DECODED_KEPT = 1024


class TokenInvalid(Exception):
    """The token was not issued by this server's key (tampered, truncated or foreign)."""


@dataclass(frozen=True)
class StsSession(SessionInfo):
    """`SessionInfo` plus what only STS needs: when it was issued (`aws:TokenIssueTime`)."""

    issued_at: datetime | None = None


@dataclass(frozen=True)
class SessionToken:
    """The decoded content of a token."""

    access_key_id: str
    secret_access_key: str
    account: str
    session: StsSession


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


class SessionTokenCodec:
    """Encrypts and decrypts session tokens with one 32-byte server key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the session token key must be 32 bytes")
        self._aead = AESGCM(key)
        # token text -> its content: a node signs every request with the same session token, and
        # decrypting, decompressing and parsing it cost ~30 us a request. Decoding is a pure function
        # of the text (expiry is checked by the caller, on every request); failures are not kept.
        self._decoded: dict[str, SessionToken] = {}

    def encode(self, token: SessionToken) -> str:
        s = token.session
        payload: Mapping[str, Any] = {
            "k": token.access_key_id,
            "x": token.secret_access_key,
            "a": token.account,
            "r": s.role_arn,
            "i": s.role_id,
            "n": s.session_name,
            "e": _epoch(s.expiration),
            "t": [[k, v] for k, v in s.tags.items()],
            "tt": list(s.transitive_tag_keys),
            "p": list(s.session_policies),
            "si": s.source_identity,
            "c": s.chained,
            "is": s.issuer,
            "ia": _epoch(s.issued_at) if s.issued_at else None,
        }
        plain = deflate9(json.dumps(payload, separators=(",", ":")).encode())
        nonce = os.urandom(_NONCE)
        blob = _VERSION + nonce + self._aead.encrypt(nonce, plain, _VERSION)
        return base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def decode(self, text: str) -> SessionToken:
        token = self._decoded.get(text)
        if token is None:
            token = self._decode(text)
            if len(self._decoded) >= _DECODED_KEPT:
                self._decoded.clear()  # bounded; a clear is atomic whatever thread decodes
            self._decoded[text] = token
        return token

    def _decode(self, text: str) -> SessionToken:
        try:
            blob = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise TokenInvalid("not base64url") from None
        if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
            raise TokenInvalid("unknown token format")
        try:
            plain = self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], _VERSION)
            p = json.loads(zlib.decompress(plain))
            session = StsSession(
                role_arn=p["r"],
                role_id=p["i"],
                session_name=p["n"],
                expiration=_from_epoch(p["e"]),
                tags=dict(p["t"]),
                transitive_tag_keys=tuple(p["tt"]),
                session_policies=tuple(p["p"]),
                source_identity=p["si"],
                chained=bool(p["c"]),
                issuer=p["is"],
                issued_at=_from_epoch(p["ia"]) if p.get("ia") is not None else None,
            )
            return SessionToken(p["k"], p["x"], p["a"], session)
        except InvalidTag:
            raise TokenInvalid("authentication failed") from None
        except (zlib.error, ValueError, KeyError, TypeError):
            raise TokenInvalid("malformed content") from None
