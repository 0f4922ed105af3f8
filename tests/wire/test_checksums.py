"""S3 checksums compared with botocore's own implementations (the ones its clients send)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.httpchecksum import (
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from podid.errors import AwsError
from podid.wire.checksums import (
    Md5,
    bad_digest,
    check_content_md5,
    checksum_of,
    content_md5,
    header_name,
    new_checksum,
    normalize_algorithm,
    parse_content_md5,
    valid_encoding,
)

BOTOCORE = {
    "CRC32": Crc32Checksum,
    "CRC32C": CrtCrc32cChecksum,
    "CRC64NVME": CrtCrc64NvmeChecksum,
    "SHA1": Sha1Checksum,
    "SHA256": Sha256Checksum,
}


@settings(max_examples=50, deadline=None)
@given(pieces=st.lists(st.binary(max_size=300), max_size=6), algorithm=st.sampled_from(sorted(BOTOCORE)))
def test_incremental_checksums_match_botocore(pieces: list[bytes], algorithm: str) -> None:
    ours = new_checksum(algorithm)
    theirs = BOTOCORE[algorithm]()
    for piece in pieces:
        ours.update(piece)
        theirs.update(piece)
    assert ours.b64digest() == theirs.b64digest()
    assert ours.digest() == theirs.digest()
    assert valid_encoding(algorithm, ours.b64digest())


def test_known_values() -> None:
    # S3 documentation / RFC 3720 check values for "123456789".
    data = b"123456789"
    assert int.from_bytes(base64.b64decode(checksum_of("CRC32", data)), "big") == 0xCBF43926
    assert int.from_bytes(base64.b64decode(checksum_of("CRC32C", data)), "big") == 0xE3069283
    assert int.from_bytes(base64.b64decode(checksum_of("CRC64NVME", data)), "big") == 0xAE8B14860A799888
    assert checksum_of("SHA256", b"") == base64.b64encode(hashlib.sha256(b"").digest()).decode()


def test_names() -> None:
    assert normalize_algorithm("x-amz-checksum-crc32c") == "CRC32C"
    assert normalize_algorithm("sha1") == "SHA1"
    assert normalize_algorithm("md5") is None
    assert header_name("crc64nvme") == "x-amz-checksum-crc64nvme"
    with pytest.raises(AwsError) as info:
        new_checksum("MD5")
    assert (info.value.code, info.value.status) == ("InvalidRequest", 400)
    assert bad_digest("crc32").code == "BadDigest"
    assert not valid_encoding("CRC32", "not base64!")
    assert not valid_encoding("CRC32", base64.b64encode(b"12345").decode())


def test_content_md5() -> None:
    body = b"hello"
    value = content_md5(body)
    assert value == base64.b64encode(hashlib.md5(body).digest()).decode()
    md5 = Md5()
    md5.update(b"he")
    md5.update(b"llo")
    assert md5.b64digest() == value
    assert md5.hexdigest() == hashlib.md5(body).hexdigest()
    check_content_md5(value, md5.b64digest())
    with pytest.raises(AwsError) as info:
        check_content_md5(content_md5(b"other"), md5.b64digest())
    assert (info.value.code, info.value.status) == ("BadDigest", 400)
    with pytest.raises(AwsError) as info:
        parse_content_md5("tooshort")
    assert info.value.code == "InvalidDigest"
