"""An approximation of STS's packed size of session policies and session tags (`PackedPolicySize`).

AWS compresses session policies and tags "into a packed binary format that has a separate limit"
and reports the percentage used, without documenting the format. podid approximates it: each part is
zlib-compressed on its own and weighed against its own budget, the percentages added:

- tags: 275 bytes of compressed `key\\0value\\0...`, calibrated on the one public data point (EKS Pod
  Identity's six session tags report `packedPolicySize` 56, reference §5.2);
- policies: 512 bytes of compressed minified JSON, so that a typical 2,048-character policy alone fits
  while a sizeable policy plus the six EKS tags does not (as AWS's `disableSessionTags` advice says).

Transitivity does not change the size (STS's documentation). Over 100% -> `PackedPolicyTooLarge`.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Sequence

TAG_BUDGET = 275
POLICY_BUDGET = 512

# zlib level 9 on a few hundred bytes spends most of its time setting up a 256 KiB deflate state
# (32 KiB window, 64 KiB hash heads, 64 KiB symbol buffer). For inputs of at most _SMALL bytes a
# 2 KiB window (wbits 11: every match distance < _SMALL fits under its 1,786-byte limit, nothing
# slides) and memLevel 5 (2,047 symbols per block: one block, as with the default 16,383) make the
# very same deflate decisions, so the compressed length is identical and ~10x cheaper to get.
_SMALL = 1786
_SMALL_WBITS = 11
_SMALL_MEM_LEVEL = 5


def _minified(document: str) -> str:
    try:
        return json.dumps(json.loads(document), separators=(",", ":"))
    except ValueError:
        return document


def deflate9(data: bytes) -> bytes:
    """A zlib stream of `data` at level 9: the same deflate data as `zlib.compress(data, 9)` (its
    header names a 2 KiB window for small inputs, which `zlib.decompress` reads as usual)."""
    if len(data) <= _SMALL:
        deflater = zlib.compressobj(9, zlib.DEFLATED, _SMALL_WBITS, _SMALL_MEM_LEVEL)
        return deflater.compress(data) + deflater.flush()
    return zlib.compress(data, 9)


def compressed_size(data: bytes) -> int:
    """`len(zlib.compress(data, 9))`."""
    return len(deflate9(data))


def packed_percent(policies: Sequence[str], tags: Iterable[tuple[str, str]]) -> int:
    tag_blob = "".join(f"{k}\0{v}\0" for k, v in tags).encode()
    policy_blob = "".join(_minified(p) for p in policies).encode()
    share = 0.0
    if tag_blob:
        share += compressed_size(tag_blob) / TAG_BUDGET
    if policy_blob:
        share += compressed_size(policy_blob) / POLICY_BUDGET
    return math.ceil(share * 100) if share else 0
