"""The key-less envelope shape check the server applies to encrypted collaborations."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v6lib.crypto import Binding, RSAPrivateKey, generate_private_key, seal
from v6lib.crypto.envelope import MAGIC
from v6lib.crypto.shape import EnvelopeShape, envelope_shape_problem

BINDING = Binding("t", 1, "input", "img:1", 2)


@pytest.fixture(scope="module")
def key() -> RSAPrivateKey:
    return generate_private_key(2048)


@pytest.fixture(scope="module")
def blob(key: RSAPrivateKey) -> bytes:
    return seal(b"x" * 5000, [key.public_key()], BINDING, chunk_size=1024)


def test_a_real_envelope_passes_whole_and_in_any_pieces(blob: bytes) -> None:
    assert envelope_shape_problem(blob) is None
    for size in (1, 7, 100, 4096):
        checker = EnvelopeShape()
        for start in range(0, len(blob), size):
            checker.feed(blob[start:start + size])
        assert checker.finish() is None


@pytest.mark.parametrize("payload", [
    b"", b"{}", json.dumps({"secret": "patients"}).encode(),
    MAGIC + json.dumps({"secret": "behind the magic bytes"}).encode(),
    MAGIC + b"\x01" + b"\x00" * 200,
])
def test_plaintext_and_magic_prefixed_plaintext_are_refused(payload: bytes) -> None:
    assert envelope_shape_problem(payload)


def test_truncated_or_extended_envelopes_are_refused(blob: bytes) -> None:
    assert "ends" in str(envelope_shape_problem(blob[:-1]))
    assert "after the final chunk" in str(envelope_shape_problem(blob + b"{}"))
    assert envelope_shape_problem(blob[:40])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_after_the_magic_never_pass(tail: bytes) -> None:
    assert envelope_shape_problem(MAGIC + tail) is not None
