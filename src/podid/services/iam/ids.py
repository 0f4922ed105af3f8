"""Identifiers and secrets in AWS's shapes: unique ids (AROA/AIDA/ANPA...), access keys, secrets.

AWS unique ids are a 4-letter prefix and 17 characters of [A-Z0-9] (21 total); access key ids are
`AKIA`/`ASIA` and 16 characters of base32 ([A-Z2-7]); secret keys are 40 characters of base64's
alphabet. All come from `secrets`, never from a predictable source.
"""

from __future__ import annotations

import base64
import secrets
import string

_ID_ALPHABET = string.ascii_uppercase + string.digits
_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def unique_id(prefix: str) -> str:
    """`AROA`, `AIDA`, `ANPA` (policy), `AIPA` (instance profile) + 17 of [A-Z0-9]."""
    return prefix + _base36(secrets.randbelow(36**17), 17)


def access_key_id(prefix: str = "AKIA") -> str:
    """`AKIA` (long-term) or `ASIA` (temporary) + 16 of [A-Z2-7] (exactly base32's alphabet)."""
    return prefix + base64.b32encode(secrets.token_bytes(10)).decode("ascii")


def secret_access_key() -> str:
    """40 characters of base64's alphabet (30 random bytes encode to exactly 40)."""
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def _base36(value: int, width: int) -> str:
    # One big random integer instead of 17 `secrets.choice` calls: same distribution, ~10x cheaper.
    out = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        out.append(_ID_ALPHABET[digit])
    return "".join(out)
