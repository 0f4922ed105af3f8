"""Decoded session tokens are kept by their text: the same answers as decoding afresh."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest

from podid.services.sts import TokenInvalid
from podid.services.sts.token import SessionToken, SessionTokenCodec, StsSession


def _token(i: int) -> SessionToken:
    session = StsSession("arn:aws:iam::1:role/r", "AROAX", f"s{i}", datetime(2030, 1, 1, tzinfo=UTC))
    return SessionToken(f"ASIA{i:016d}", "x" * 40, "1", session)


def test_a_kept_token_still_refuses_its_tampered_copies() -> None:
    codec = SessionTokenCodec(os.urandom(32))
    text = codec.encode(_token(1))
    assert codec.decode(text) == _token(1)
    blob = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    blob[-1] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(blob)).decode().rstrip("=")
    for _ in range(2):  # a failure is not kept either
        with pytest.raises(TokenInvalid):
            codec.decode(tampered)
    assert codec.decode(text) == _token(1)
    with pytest.raises(TokenInvalid):
        SessionTokenCodec(os.urandom(32)).decode(text)  # kept per key, never across keys


def test_more_tokens_than_kept_all_decode() -> None:
    codec = SessionTokenCodec(os.urandom(32))
    texts = [codec.encode(_token(i)) for i in range(2100)]
    for _ in range(2):
        for i, text in enumerate(texts):
            assert codec.decode(text) == _token(i)
