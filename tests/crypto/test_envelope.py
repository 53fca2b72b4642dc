"""Sealed envelopes: round trips, and one distinct error per way an envelope can go wrong."""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v6lib.crypto import (
    Binding,
    RSAPrivateKey,
    TaskBinding,
    fingerprint,
    generate_private_key,
    is_envelope,
    open_sealed,
    open_stream,
    seal,
    seal_stream,
)
from v6lib.crypto.envelope import MAGIC, VERSION
from v6lib.errors import (
    BindingMismatchError,
    DecryptionError,
    EncryptionError,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
)

BINDING = Binding("task-7f3a", 2, "input", "v6-average:1", 5)
CHUNK = 16


@pytest.fixture(scope="module")
def alice() -> RSAPrivateKey:
    return generate_private_key(2048)


@pytest.fixture(scope="module")
def bob() -> RSAPrivateKey:
    return generate_private_key(2048)


@pytest.fixture(scope="module")
def mallory() -> RSAPrivateKey:
    return generate_private_key(2048)


@dataclass
class Layout:
    """Byte offsets of the regions of an envelope, parsed independently of the library."""

    header_len: int
    slots: list[tuple[int, int, int]]  # (fingerprint offset, wrapped offset, wrapped length)
    tag: int
    records: list[tuple[int, int, int]]  # (record offset, ciphertext offset, ciphertext length)

    @property
    def body(self) -> int:
        return 9


def parse(blob: bytes) -> Layout:
    assert blob[:4] == MAGIC and blob[4] == VERSION
    (header_len,) = struct.unpack_from(">I", blob, 5)
    offset = 9 + 4 + 4 + 32
    (count,) = struct.unpack_from(">H", blob, offset)
    offset += 2
    slots = []
    for _ in range(count):
        (length,) = struct.unpack_from(">H", blob, offset + 32)
        slots.append((offset, offset + 34, length))
        offset += 34 + length
    assert offset == 9 + header_len
    tag = offset
    offset += 32
    records = []
    while offset < len(blob):
        _flags, ct_len = struct.unpack_from(">BI", blob, offset)
        records.append((offset, offset + 5, ct_len))
        offset += 5 + ct_len
    assert offset == len(blob)
    return Layout(header_len, slots, tag, records)


def flip(blob: bytes, position: int, bit: int = 0) -> bytes:
    changed = bytearray(blob)
    changed[position] ^= 1 << bit
    return bytes(changed)


def stream_open(blob: bytes, key: RSAPrivateKey, binding: Binding = BINDING) -> bytes:
    out = io.BytesIO()
    open_stream(io.BytesIO(blob), out, key, binding)
    return out.getvalue()


# --------------------------------------------------------------------------- round trips


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300), chunk_size=st.integers(min_value=1, max_value=64))
def test_seal_open_round_trip(alice: RSAPrivateKey, data: bytes, chunk_size: int) -> None:
    blob = seal(data, [alice.public_key()], BINDING, chunk_size=chunk_size)
    assert open_sealed(blob, alice, BINDING) == data
    assert stream_open(blob, alice) == data
    assert len(parse(blob).records) == max(1, -(-len(data) // chunk_size))


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300), chunk_size=st.integers(min_value=1, max_value=64))
def test_stream_round_trip_is_the_same_format(
    alice: RSAPrivateKey, data: bytes, chunk_size: int
) -> None:
    sealed = io.BytesIO()
    written = seal_stream(io.BytesIO(data), sealed, [alice.public_key()], BINDING, chunk_size)
    blob = sealed.getvalue()
    assert written == len(blob)
    out = io.BytesIO()
    assert open_stream(io.BytesIO(blob), out, alice, BINDING) == len(data)
    assert out.getvalue() == data
    assert open_sealed(blob, alice, BINDING) == data


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5])
def test_chunk_boundary_sizes(alice: RSAPrivateKey, size: int) -> None:
    data = bytes(range(256))[:size] if size <= 256 else b"x" * size
    blob = seal(data, [alice.public_key()], BINDING, chunk_size=CHUNK)
    layout = parse(blob)
    assert [ct for _, _, ct in layout.records][:-1] == [CHUNK + 16] * (len(layout.records) - 1)
    assert open_sealed(blob, alice, BINDING) == data
    assert stream_open(blob, alice) == data


class Trickle(io.RawIOBase):
    """A source that returns at most 3 bytes per read, like a pipe under load."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._data.read(min(n, 3) if n >= 0 else 3)


def test_short_reads_are_handled(alice: RSAPrivateKey) -> None:
    data = bytes(range(200))
    sealed = io.BytesIO()
    seal_stream(Trickle(data), sealed, [alice], BINDING, chunk_size=CHUNK)  # type: ignore[arg-type]
    out = io.BytesIO()
    open_stream(Trickle(sealed.getvalue()), out, alice, BINDING)  # type: ignore[arg-type]
    assert out.getvalue() == data


def test_every_recipient_can_open(
    alice: RSAPrivateKey, bob: RSAPrivateKey, mallory: RSAPrivateKey
) -> None:
    blob = seal(b"shared secret", [alice.public_key(), bob.public_key()], BINDING)
    assert open_sealed(blob, alice, BINDING) == b"shared secret"
    assert open_sealed(blob, bob, BINDING) == b"shared secret"
    with pytest.raises(WrongKeyError, match="2 recipient"):
        open_sealed(blob, mallory, BINDING)


def test_ten_recipients_and_duplicates(alice: RSAPrivateKey, bob: RSAPrivateKey) -> None:
    blob = seal(b"x", [alice.public_key(), alice, bob.public_key(), bob], BINDING)
    assert len(parse(blob).slots) == 2
    assert open_sealed(blob, bob, BINDING) == b"x"


def test_each_message_uses_a_fresh_key(alice: RSAPrivateKey) -> None:
    one = seal(b"same", [alice], BINDING)
    two = seal(b"same", [alice], BINDING)
    own_one, own_two = parse(one).slots[0], parse(two).slots[0]
    assert one[own_one[1] : own_one[1] + own_one[2]] != two[own_two[1] : own_two[1] + own_two[2]]
    assert one[13:17] != two[13:17] or one[-16:] != two[-16:]


def test_slot_is_addressed_by_fingerprint(alice: RSAPrivateKey) -> None:
    blob = seal(b"x", [alice], BINDING)
    fp_offset, _, _ = parse(blob).slots[0]
    assert blob[fp_offset : fp_offset + 32].hex() == fingerprint(alice)


def test_is_envelope(alice: RSAPrivateKey) -> None:
    assert is_envelope(seal(b"", [alice], BINDING))
    assert not is_envelope(b'{"json": 1}')


# --------------------------------------------------------------------------- tampering


@pytest.fixture(scope="module")
def two_party_blob(alice: RSAPrivateKey, bob: RSAPrivateKey) -> bytes:
    data = bytes(range(40))  # three chunks of 16, 16 and 8 bytes
    return seal(data, [alice.public_key(), bob.public_key()], BINDING, chunk_size=CHUNK)


def _alice_slot(blob: bytes, alice: RSAPrivateKey) -> tuple[int, int, int]:
    layout = parse(blob)
    return next(s for s in layout.slots if blob[s[0] : s[0] + 32].hex() == fingerprint(alice))


def _bob_slot(blob: bytes, alice: RSAPrivateKey) -> tuple[int, int, int]:
    layout = parse(blob)
    return next(s for s in layout.slots if blob[s[0] : s[0] + 32].hex() != fingerprint(alice))


@pytest.mark.parametrize(
    "region",
    [
        "chunk_size",
        "nonce_prefix",
        "commitment",
        "slot_count",
        "own_wrapped_key",
        "other_wrapped_key",
        "other_fingerprint",
        "header_tag",
        "record_flags",
        "chunk_ciphertext",
        "chunk_tag",
        "final_chunk",
    ],
)
def test_flipped_bit_is_tampering(
    two_party_blob: bytes, alice: RSAPrivateKey, region: str
) -> None:
    blob = two_party_blob
    layout = parse(blob)
    own, other = _alice_slot(blob, alice), _bob_slot(blob, alice)
    first_record, first_ct, first_len = layout.records[0]
    positions = {
        "chunk_size": 9 + 3,
        "nonce_prefix": 13,
        "commitment": 17 + 5,
        "slot_count": 49 + 1,
        "own_wrapped_key": own[1] + 10,
        "other_wrapped_key": other[1] + 10,
        "other_fingerprint": other[0] + 3,
        "header_tag": layout.tag + 31,
        "record_flags": first_record,
        "chunk_ciphertext": first_ct + 2,
        "chunk_tag": first_ct + first_len - 1,
        "final_chunk": layout.records[-1][1] + 1,
    }
    changed = flip(blob, positions[region], bit=1 if region == "record_flags" else 0)
    with pytest.raises(TamperedError):
        open_sealed(changed, alice, BINDING)
    with pytest.raises(TamperedError):
        stream_open(changed, alice)


def test_no_single_byte_change_is_ever_accepted(
    two_party_blob: bytes, alice: RSAPrivateKey
) -> None:
    for position in range(len(two_party_blob)):
        with pytest.raises((DecryptionError, UnsupportedVersionError)):
            open_sealed(flip(two_party_blob, position, bit=position % 8), alice, BINDING)


def test_flipping_own_fingerprint_reads_as_wrong_key(
    two_party_blob: bytes, alice: RSAPrivateKey
) -> None:
    own = _alice_slot(two_party_blob, alice)
    with pytest.raises(WrongKeyError):
        open_sealed(flip(two_party_blob, own[0]), alice, BINDING)


def _records(blob: bytes) -> tuple[bytes, list[bytes]]:
    layout = parse(blob)
    head = blob[: layout.records[0][0]]
    parts = [blob[r : c + n] for r, c, n in layout.records]
    return head, parts


def test_reordered_duplicated_or_dropped_chunks_are_tampering(
    two_party_blob: bytes, alice: RSAPrivateKey
) -> None:
    head, (a, b, c) = _records(two_party_blob)
    for records in ([b, a, c], [a, a, c], [a, c], [b, c]):
        with pytest.raises(TamperedError):
            open_sealed(head + b"".join(records), alice, BINDING)


def test_trailing_data_is_tampering(two_party_blob: bytes, alice: RSAPrivateKey) -> None:
    with pytest.raises(TamperedError, match="after the final"):
        open_sealed(two_party_blob + b"\x00", alice, BINDING)


def test_chunks_cannot_be_moved_between_envelopes(alice: RSAPrivateKey) -> None:
    one = seal(b"a" * 40, [alice], BINDING, chunk_size=CHUNK)
    two = seal(b"b" * 40, [alice], BINDING, chunk_size=CHUNK)
    head_one, _ = _records(one)
    _, records_two = _records(two)
    with pytest.raises(TamperedError):
        open_sealed(head_one + b"".join(records_two), alice, BINDING)


# --------------------------------------------------------------------------- keys, bindings


def test_wrong_private_key(two_party_blob: bytes, mallory: RSAPrivateKey) -> None:
    with pytest.raises(WrongKeyError, match="none of which"):
        open_sealed(two_party_blob, mallory, BINDING)
    with pytest.raises(WrongKeyError):
        stream_open(two_party_blob, mallory)


@pytest.mark.parametrize(
    "other",
    [
        Binding("task-other", 2, "input", "v6-average:1", 5),
        Binding("task-7f3a", 3, "input", "v6-average:1", 5),
        Binding("task-7f3a", 2, "result", "v6-average:1", 5),
        Binding("task-7f3a", 2, "input", "attacker/other:1", 5),
        Binding("task-7f3a", 2, "input", "v6-average:1", 6),
    ],
)
def test_other_binding_is_a_binding_mismatch(
    two_party_blob: bytes, alice: RSAPrivateKey, other: Binding
) -> None:
    with pytest.raises(BindingMismatchError, match=re.escape(repr(other.task_uid))):
        open_sealed(two_party_blob, alice, other)
    with pytest.raises(BindingMismatchError):
        stream_open(two_party_blob, alice, other)


def test_binding_aad_is_unambiguous() -> None:
    def aad(*args: object) -> bytes:
        return Binding(*args).aad()  # type: ignore[arg-type]

    assert aad("a1", 2, "input", "i", 1) != aad("a", 12, "input", "i", 1)
    assert aad("a", 1, "input", "i", 1) != aad("a", 1, "result", "i", 1)
    assert aad("a", 1, "input", "i1", 1) != aad("a1", 1, "input", "i", 1)
    assert aad("a", 1, "input", "i", 2) != aad("a", 1, "input", "i", 1)
    assert aad("t", 1, "input", "i", 1) == aad("t", 1, "input", "i", 1)


def test_task_binding_covers_uid_image_and_initiator() -> None:
    task = TaskBinding.of({"uid": "u", "image": "img:1", "init_org_id": 4})
    assert task.input(2) == Binding("u", 2, "input", "img:1", 4)
    assert task.result(3) == Binding("u", 3, "result", "img:1", 4)
    with pytest.raises(EncryptionError, match="initiating organization"):
        TaskBinding.of({"id": 9, "uid": "u", "image": "img:1", "init_org_id": None})


@pytest.mark.parametrize(
    "args",
    [("", 1, "input", "i", 1), ("t", "1", "input", "i", 1), ("t", True, "input", "i", 1),
     ("t", 1, "output", "i", 1), ("t", 1, "input", "", 1), ("t", 1, "input", "i", "1")],
)
def test_binding_rejects_bad_fields(args: tuple[object, ...]) -> None:
    with pytest.raises(EncryptionError, match="Binding"):
        Binding(*args)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- truncation, versions


def test_truncation_anywhere_is_detected(two_party_blob: bytes, alice: RSAPrivateKey) -> None:
    for length in range(len(two_party_blob)):
        with pytest.raises(TruncatedError):
            open_sealed(two_party_blob[:length], alice, BINDING)


def test_truncation_exactly_at_a_chunk_boundary(
    two_party_blob: bytes, alice: RSAPrivateKey
) -> None:
    layout = parse(two_party_blob)
    for record_offset, _, _ in layout.records:
        cut = two_party_blob[:record_offset]
        with pytest.raises(TruncatedError, match="final chunk missing"):
            open_sealed(cut, alice, BINDING)
        with pytest.raises(TruncatedError):
            stream_open(cut, alice)


@pytest.mark.parametrize(
    "blob",
    [b"not an envelope at all", b"PK\x03\x04zipfile", b"\x89PNG\r\n\x1a\n", b"{}"],
)
def test_garbage_is_unsupported(blob: bytes, alice: RSAPrivateKey) -> None:
    with pytest.raises(UnsupportedVersionError, match="not a v6lib envelope"):
        open_sealed(blob, alice, BINDING)


def test_other_version_is_unsupported(two_party_blob: bytes, alice: RSAPrivateKey) -> None:
    future = two_party_blob[:4] + bytes([VERSION + 1]) + two_party_blob[5:]
    with pytest.raises(UnsupportedVersionError, match=f"version {VERSION + 1}"):
        open_sealed(future, alice, BINDING)


# --------------------------------------------------------------------------- argument errors


def test_argument_errors(alice: RSAPrivateKey) -> None:
    with pytest.raises(EncryptionError, match="zero recipients"):
        seal(b"x", [], BINDING)
    with pytest.raises(EncryptionError, match="chunk_size"):
        seal(b"x", [alice], BINDING, chunk_size=0)
    with pytest.raises(EncryptionError, match="plaintext must be bytes"):
        seal("text", [alice], BINDING)  # type: ignore[arg-type]
    with pytest.raises(EncryptionError, match="Binding"):
        seal(b"x", [alice], ("t", 1, "input"))  # type: ignore[arg-type]
    with pytest.raises(EncryptionError, match="private key"):
        open_sealed(seal(b"x", [alice], BINDING), alice.public_key(), BINDING)  # type: ignore[arg-type]


def test_streaming_uses_constant_memory(alice: RSAPrivateKey, tmp_path: Path) -> None:
    import tracemalloc

    plain, sealed, opened = tmp_path / "plain", tmp_path / "sealed", tmp_path / "opened"
    block = bytes(range(256)) * 4096  # 1 MiB
    with plain.open("wb") as fh:
        for _ in range(24):
            fh.write(block)
    tracemalloc.start()
    try:
        with plain.open("rb") as src, sealed.open("wb") as dst:
            seal_stream(src, dst, [alice], BINDING, chunk_size=1 << 20)
        with sealed.open("rb") as src, opened.open("wb") as dst:
            assert open_stream(src, dst, alice, BINDING) == 24 << 20
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes for a 24 MiB stream"
    assert opened.read_bytes() == plain.read_bytes()
