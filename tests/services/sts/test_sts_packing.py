"""The packed-size estimate's fast compressed length equals zlib level 9's on every input."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from podid.services.sts.packing import compressed_size, deflate9, packed_percent

# Inputs like the ones STS packs (tags and minified JSON), plus repetitive and random bytes, across
# the small-state limit (1,786 bytes) so that both paths are exercised.
_ALPHABET = st.sampled_from([b"ab", b'{"Statement":[:,]}\x00-eks', bytes(range(256))])


@st.composite
def _blobs(draw: st.DrawFn) -> bytes:
    alphabet = draw(_ALPHABET)
    size = draw(st.integers(0, 2600))
    kind = draw(st.sampled_from(["chars", "chunks", "random"]))
    if kind == "random":
        return draw(st.binary(min_size=size, max_size=size))
    if kind == "chars":
        picks = draw(st.lists(st.integers(0, len(alphabet) - 1), min_size=size, max_size=size))
        return bytes(alphabet[i] for i in picks)
    chunks = draw(st.lists(st.binary(min_size=1, max_size=24), min_size=1, max_size=6))
    order = draw(st.lists(st.integers(0, len(chunks) - 1), min_size=1, max_size=200))
    return b"".join(chunks[i] for i in order)[:size]


@settings(max_examples=400, deadline=None)
@given(_blobs())
def test_compressed_size_is_zlib_level_9(data: bytes) -> None:
    assert compressed_size(data) == len(zlib.compress(data, 9))


def test_limit_edges() -> None:
    for size in (0, 1, 261, 262, 263, 1785, 1786, 1787, 2048, 4096):
        for data in (b"a" * size, bytes(i * 7 % 256 for i in range(size))):
            assert compressed_size(data) == len(zlib.compress(data, 9))


def test_six_eks_tags_percent_is_of_the_level_9_size() -> None:
    tags = [
        ("eks-cluster-arn", "arn:aws:eks:us-west-2:111122223333:cluster/my-cluster"),
        ("eks-cluster-name", "my-cluster"),
        ("kubernetes-namespace", "default"),
        ("kubernetes-service-account", "my-service-account"),
        ("kubernetes-pod-name", "my-app-6d8f7b9c4d-x2x7k"),
        ("kubernetes-pod-uid", "b6a1e8f2-3c4d-4e5f-8a9b-0c1d2e3f4a5b"),
    ]
    blob = "".join(f"{k}\0{v}\0" for k, v in tags).encode()
    assert packed_percent([], tags) == -(-len(zlib.compress(blob, 9)) * 100 // 275)


@settings(max_examples=200, deadline=None)
@given(_blobs())
def test_deflate9_round_trips_and_has_zlib_level_9_data(data: bytes) -> None:
    out = deflate9(data)
    assert zlib.decompress(out) == data
    assert out[2:] == zlib.compress(data, 9)[2:]  # only the header's window size may differ
