"""Pure parts of S3: listing pages, names, preconditions and ranges, bucket policy checks, storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podid.errors import AwsError
from podid.services.s3.conditions import check_preconditions, parse_range
from podid.services.s3.domain import check_bucket_policy
from podid.services.s3.listing import decode_token, encode_token, list_page
from podid.services.s3.model import ObjectRecord, timestamp
from podid.services.s3.names import check_key, valid_bucket_name
from podid.services.s3.storage import BlobStore

KEYS = sorted(["a/1", "a/2", "a/b/1", "a/b/2", "b", "c/1", "c/2", "d"])


def test_list_page_delimiter_counts_prefixes_once() -> None:
    page = list_page(KEYS, delimiter="/", max_keys=3)
    assert page.prefixes == ["a/", "c/"]
    assert page.keys == ["b"]
    assert page.truncated
    assert page.last == "c/"
    rest = list_page(KEYS, delimiter="/", after=page.last or "", max_keys=3)
    assert rest.keys == ["d"]
    assert rest.prefixes == []
    assert not rest.truncated


def test_list_page_prefix_and_after() -> None:
    assert list_page(KEYS, prefix="a/", delimiter="/").keys == ["a/1", "a/2"]
    assert list_page(KEYS, prefix="a/", delimiter="/").prefixes == ["a/b/"]
    assert list_page(KEYS, prefix="a/b/", after="a/b/1").keys == ["a/b/2"]
    assert list_page(KEYS, prefix="zz").keys == []
    assert list_page(KEYS, max_keys=0).keys == []


@given(
    st.lists(st.text(alphabet="ab/", min_size=1, max_size=6), unique=True, max_size=30),
    st.integers(min_value=1, max_value=5),
    st.sampled_from(["", "/"]),
)
def test_paging_visits_every_entry_once(keys: list[str], size: int, delimiter: str) -> None:
    keys = sorted(keys)
    everything = list_page(keys, delimiter=delimiter, max_keys=10_000)
    seen: list[str] = []
    after = ""
    while True:
        page = list_page(keys, delimiter=delimiter, after=after, max_keys=size)
        seen.extend(page.keys + page.prefixes)
        if not page.truncated:
            break
        assert page.last is not None
        after = page.last
    assert sorted(seen) == sorted(everything.keys + everything.prefixes)
    assert len(seen) == len(set(seen))


def test_continuation_tokens() -> None:
    assert decode_token(encode_token("dir/ü key")) == "dir/ü key"
    with pytest.raises(AwsError) as err:
        decode_token("not-a-token")
    assert err.value.code == "InvalidArgument"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("my-bucket", True),
        ("a.b.c", True),
        ("abc", True),
        ("ab", False),
        ("a" * 64, False),
        ("My-Bucket", False),
        ("bucket_", False),
        ("a..b", False),
        ("10.0.0.1", False),
        ("sthree-x", False),
        ("x-s3alias", False),
        ("-abc", False),
    ],
)
def test_bucket_names(name: str, valid: bool) -> None:
    assert valid_bucket_name(name) is valid


def test_keys() -> None:
    check_key("a" * 1024)
    with pytest.raises(AwsError) as err:
        check_key("é" * 513)
    assert err.value.code == "KeyTooLongError"


def record(modified: datetime) -> ObjectRecord:
    return ObjectRecord(key="k", blob="b", size=10, etag='"abc"', modified=timestamp(modified), owner="1")


def test_preconditions() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rec = record(now)
    check_preconditions(
        rec, if_match='"abc"', if_none_match=None, if_modified_since=None, if_unmodified_since=None
    )
    cases: list[tuple[dict[str, object], str]] = [
        ({"if_match": '"nope"'}, "PreconditionFailed"),
        ({"if_unmodified_since": now - timedelta(days=1)}, "PreconditionFailed"),
        ({"if_none_match": "abc"}, "NotModified"),
        ({"if_modified_since": now + timedelta(days=1)}, "NotModified"),
    ]
    for kwargs, code in cases:
        args: dict[str, object] = {
            "if_match": None,
            "if_none_match": None,
            "if_modified_since": None,
            "if_unmodified_since": None,
        }
        args.update(kwargs)
        with pytest.raises(AwsError) as err:
            check_preconditions(rec, **args)  # type: ignore[arg-type]
        assert err.value.code == code
    # If-Match true wins over If-Unmodified-Since false (RFC 7232, as S3 documents).
    check_preconditions(
        rec,
        if_match="*",
        if_none_match=None,
        if_modified_since=None,
        if_unmodified_since=now - timedelta(days=1),
    )


def test_ranges() -> None:
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=5-", 10) == (5, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=-30", 10) == (0, 9)
    assert parse_range("bytes=2-100", 10) == (2, 9)
    assert parse_range("bytes=5-2", 10) is None
    assert parse_range("bytes=0-1,3-4", 10) is None
    assert parse_range(None, 10) is None
    for header, size in [("bytes=10-", 10), ("bytes=0-", 0), ("bytes=-0", 10)]:
        with pytest.raises(AwsError) as err:
            parse_range(header, size)
        assert err.value.code == "InvalidRange"


def test_bucket_policy_checks() -> None:
    good = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        '"Action":"s3:GetObject","Resource":["arn:aws:s3:::b1/*","arn:aws:s3:::b1"]}]}'
    )
    check_bucket_policy("b1", good)
    check_bucket_policy("b1", good.replace("arn:aws:s3:::b1/*", "arn:aws:s3:::b*"))
    for text, message in [
        ("[]", "Policies must be valid JSON and the first byte must be '{'"),
        (good.replace("b1/*", "b2/*"), "Policy has invalid resource"),
        ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}', None),
    ]:
        with pytest.raises(AwsError) as err:
            check_bucket_policy("b1", text)
        assert err.value.code == "MalformedPolicy"
        if message:
            assert err.value.message == message
    with pytest.raises(AwsError) as err:
        check_bucket_policy("b1", good[:-2] + " " * 21000 + "]}")
    assert err.value.code == "PolicyTooLarge"


async def failing(after: int) -> AsyncIterator[bytes]:
    yield b"x" * after
    raise AwsError("broken", code="IncompleteBody", status=400)


async def test_storage_writes_atomically(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "s3")
    with pytest.raises(AwsError):
        await blobs.write(failing(1000), algorithms=["CRC32"])
    assert list(blobs.tmp.iterdir()) == []
    assert list(blobs.blobs.iterdir()) == []
    staged = await blobs.write(b"hello", algorithms=["CRC32", "SHA256"], sha256=True)
    assert staged.md5_hex == "5d41402abc4b2a76b9719d911017c592"
    assert staged.checksums["CRC32"] == "NhCmhg=="
    blob = blobs.commit(staged)
    assert b"".join([c async for c in blobs.read(blob)]) == b"hello"
    assert b"".join([c async for c in blobs.read(blob, 1, 3)]) == b"ell"
    assert list(blobs.tmp.iterdir()) == []
    with pytest.raises(OverflowError):
        await blobs.write(b"toolong", limit=3)
    (blobs.tmp / "leftover").write_bytes(b"half a body")  # as a crash would leave it
    BlobStore(tmp_path / "s3")
    assert list(blobs.tmp.iterdir()) == []


async def test_reader_keeps_its_bytes_and_closes(tmp_path: Path) -> None:
    import gc

    blobs = BlobStore(tmp_path / "s3")
    blob = blobs.commit(await blobs.write(b"a" * 3_000_000))
    reader = blobs.read(blob)
    blobs.delete(blob)  # replaced or deleted while a download is being answered
    assert b"".join([c async for c in reader]) == b"a" * 3_000_000
    dropped = blobs.read(blobs.commit(await blobs.write(b"b" * 10)))
    del dropped
    gc.collect()  # no ResourceWarning (warnings are errors): the file was closed
