"""Identifiers and secrets in AWS's shapes: unique ids (AROA/AIDA/ANPA...), access keys, secrets.

AWS unique ids are a 4-letter prefix and 17 characters of [A-Z0-9] (21 total); access key ids are
`AKIA`/`ASIA` and 16 characters of base32 ([A-Z2-7]); secret keys are 40 characters of base64's
alphabet. All come from `secrets`, never from a predictable source.
"""

from __future__ import annotations

import secrets
import string

_ID_ALPHABET = string.ascii_uppercase + string.digits
_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def unique_id(prefix: str) -> str:
    """`AROA`, `AIDA`, `ANPA` (policy), `AIPA` (instance profile) + 17 of [A-Z0-9]."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def access_key_id(prefix: str = "AKIA") -> str:
    """`AKIA` (long-term) or `ASIA` (temporary) + 16 of [A-Z2-7]."""
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
