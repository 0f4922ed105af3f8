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


def _minified(document: str) -> str:
    try:
        return json.dumps(json.loads(document), separators=(",", ":"))
    except ValueError:
        return document


def packed_percent(policies: Sequence[str], tags: Iterable[tuple[str, str]]) -> int:
    tag_blob = "".join(f"{k}\0{v}\0" for k, v in tags).encode()
    policy_blob = "".join(_minified(p) for p in policies).encode()
    share = 0.0
    if tag_blob:
        share += len(zlib.compress(tag_blob, 9)) / TAG_BUDGET
    if policy_blob:
        share += len(zlib.compress(policy_blob, 9)) / POLICY_BUDGET
    return math.ceil(share * 100) if share else 0
