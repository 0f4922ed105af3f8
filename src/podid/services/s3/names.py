"""S3 naming rules: general purpose bucket names and object keys.

Bucket rules ("Bucket naming rules", Amazon S3 User Guide): 3 to 63 characters; lower-case letters,
digits, dots and hyphens; begins and ends with a letter or digit; no two adjacent dots; not shaped
like an IPv4 address; not starting with `xn--`, `sthree-` or `amzn-s3-demo-`; not ending with
`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3` or `--table-s3`. Keys: 1 to 1024 bytes of UTF-8.
"""

from __future__ import annotations

import re

from podid.errors import AwsError
from podid.services.s3.errors import invalid_argument, invalid_bucket_name

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY_BYTES = 1024


def valid_bucket_name(name: str) -> bool:
    return (
        _BUCKET.fullmatch(name) is not None
        and ".." not in name
        and _IPV4.fullmatch(name) is None
        and not name.startswith(_BAD_PREFIXES)
        and not name.endswith(_BAD_SUFFIXES)
    )


def check_bucket_name(name: str) -> None:
    """Raise `InvalidBucketName` unless `name` is a valid general purpose bucket name."""
    if not valid_bucket_name(name):
        raise invalid_bucket_name(name)


def check_key(key: str) -> None:
    """Raise S3's `KeyTooLongError` for keys over 1024 bytes, `InvalidArgument` for empty ones."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if size == 0:
        raise invalid_argument("The key must not be empty.", "key", key)
    if size > MAX_KEY_BYTES:
        raise AwsError(
            "Your key is too long",
            code="KeyTooLongError",
            status=400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_KEY_BYTES)},
        )
