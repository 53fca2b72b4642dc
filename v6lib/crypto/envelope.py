"""Sealed envelopes: end-to-end encryption of task inputs and results between organizations.

Every message gets a fresh random 256-bit data key ``K``. ``K`` is wrapped for each recipient
with RSA-OAEP (SHA-256, MGF1-SHA-256); a recipient's slot is addressed by the SHA-256
fingerprint of its public key. HKDF-SHA-256 derives three independent keys from ``K``: an
AES-256-GCM key for the payload, an HMAC key that authenticates the header, and a
commitment key for the :class:`Binding` (task, organization, purpose) the envelope belongs to.

Layout, all integers big-endian (version 1)::

    magic "\\x89V6E" | version u8 = 1 | header_len u32
    header: chunk_size u32 | nonce_prefix 4B | binding_commitment 32B
            | n_slots u16 | n_slots x (fingerprint 32B | wrapped_len u16 | wrapped_key)
    header_tag 32B = HMAC-SHA-256(mac_key, magic .. header)
    records: flags u8 (bit 0 = final) | ct_len u32 | AES-GCM(ciphertext || 16B tag)
    chunk i: nonce = nonce_prefix || i (u64);
             AAD = SHA-256(header .. header_tag) || binding.aad() || i (u64) || flags (u8)

Why each failure is told apart soundly (checked in this order):

* wrong magic or version -> UnsupportedVersionError; input ending inside the prefix,
  header, a record, or before a record flagged final -> TruncatedError;
* no slot carries our fingerprint -> WrongKeyError (checked before any private-key work);
* OAEP unwrap of *our* slot fails, or the header HMAC fails -> TamperedError: only the
  holder of ``K`` can produce a valid header tag, so any change to the header (other slots,
  chunk size, nonce prefix, commitment) is caught here before the binding is looked at;
* header authentic but ``HMAC(commit_key, binding.aad())`` differs from the stored
  commitment -> BindingMismatchError. Because the header was authenticated first, a
  mismatch can only mean the caller's binding differs from the sealer's, never tampering;
* a chunk fails GCM -> TamperedError (chunk index and final flag are in the AAD, so
  reordering, duplication and dropping/flagging chunks are all detected).

Limits: like any multi-recipient hybrid scheme without signatures, a recipient knows ``K``
and could forge an envelope for the other recipients of the same message; authenticity of
the *sender* comes from the server's authenticated API, not from this envelope. Flipping
bits inside our own slot's fingerprint makes the slot unfindable and reads as
WrongKeyError. ``open_stream`` writes plaintext chunk by chunk as each is authenticated;
if it raises, the caller must discard what was written (the end is only known at the end).

The byte-level work lives in :mod:`v6lib.crypto.wire`; this module is the public entry
points. ``seal``/``open_sealed`` write every chunk straight into one preallocated buffer,
``seal_stream``/``open_stream`` hold one chunk at a time; both produce the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from v6lib.byte_source import ByteSource
from v6lib.crypto.binding import Binding, Purpose
from v6lib.crypto.wire import (
    DEFAULT_CHUNK_SIZE,
    FINAL,
    MAGIC,
    RECORD,
    TAG_LEN,
    VERSION,
    open_header,
    preallocated,
    records,
    seal_header,
)
from v6lib.errors import EncryptionError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAGIC",
    "VERSION",
    "Binding",
    "Purpose",
    "is_envelope",
    "open_sealed",
    "open_stream",
    "seal",
    "seal_stream",
]


def is_envelope(data: bytes) -> bool:
    """Whether ``data`` starts like a v6lib envelope (any version); a cheap sniff."""
    return bytes(data[:4]) == MAGIC


# --------------------------------------------------------------------------- sealing


def _seal_records(
    chunks: Iterable[bytes | memoryview],
    recipients: Sequence[RSAPublicKey],
    binding: Binding,
    chunk_size: int,
) -> Iterator[bytes]:
    """Yield the envelope piece by piece; ``chunks`` yields plaintext pieces <= chunk_size."""
    header, cipher = seal_header(recipients, binding, chunk_size)
    yield header
    index = 0
    iterator = iter(chunks)
    current = next(iterator, b"")
    for following in iterator:
        yield RECORD.pack(0, len(current) + TAG_LEN)
        yield cipher.encrypt(index, 0, current)
        index += 1
        current = following
    yield RECORD.pack(FINAL, len(current) + TAG_LEN)
    yield cipher.encrypt(index, FINAL, current)


def _read_full(src: ByteSource, n: int) -> bytes:
    """Read exactly ``n`` bytes unless EOF comes first (pipes and sockets return short)."""
    data = src.read(n)
    if data is None:
        raise EncryptionError("non-blocking streams are not supported")
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = src.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _stream_chunks(src: ByteSource, chunk_size: int) -> Iterator[bytes]:
    while True:
        block = _read_full(src, chunk_size)
        if not block:
            return
        yield block
        if len(block) < chunk_size:
            return


def seal(
    plaintext: bytes,
    recipients: Sequence[RSAPublicKey],
    binding: Binding,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> bytes:
    """Encrypt ``plaintext`` so that only ``recipients`` can open it, bound to ``binding``."""
    if not isinstance(plaintext, bytes | bytearray | memoryview):
        raise EncryptionError(f"plaintext must be bytes, got {type(plaintext).__name__}")
    view = memoryview(plaintext).cast("B")
    header, cipher = seal_header(recipients, binding, chunk_size)
    count = max(1, -(-len(view) // chunk_size))
    buffer = preallocated(len(header) + count * (RECORD.size + TAG_LEN) + len(view))
    with buffer.getbuffer() as out:
        out[: len(header)] = header
        position = len(header)
        for index in range(count):
            piece = view[index * chunk_size : (index + 1) * chunk_size]
            flags = FINAL if index == count - 1 else 0
            size = len(piece) + TAG_LEN
            RECORD.pack_into(out, position, flags, size)
            position += RECORD.size
            cipher.encrypt_into(index, flags, piece, out[position : position + size])
            position += size
    return buffer.getvalue()


def seal_stream(
    src: ByteSource,
    dst: BinaryIO,
    recipients: Sequence[RSAPublicKey],
    binding: Binding,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Encrypt ``src`` into ``dst`` in constant memory; returns the bytes written."""
    written = 0
    for piece in _seal_records(_stream_chunks(src, chunk_size), recipients, binding, chunk_size):
        dst.write(piece)
        written += len(piece)
    return written


# --------------------------------------------------------------------------- opening


def _open_records(
    read: Callable[[int], bytes], private_key: RSAPrivateKey, binding: Binding
) -> Iterator[bytes]:
    """Verify and decrypt an envelope read through ``read(n)``, yielding plaintext chunks."""
    cipher, chunk_size = open_header(read, private_key, binding)
    for index, flags, ciphertext in records(read, chunk_size):
        yield cipher.decrypt(index, flags, ciphertext)


def _memory_reader(blob: bytes | memoryview) -> Callable[[int], memoryview]:
    view = memoryview(blob).cast("B")
    position = 0

    def read(n: int) -> memoryview:
        nonlocal position
        piece = view[position : position + n]
        position += len(piece)
        return piece

    return read


def open_sealed(blob: bytes, private_key: RSAPrivateKey, binding: Binding) -> bytes:
    """Verify and decrypt an envelope made by :func:`seal` or :func:`seal_stream`."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise EncryptionError(f"envelope must be bytes, got {type(blob).__name__}")
    read = _memory_reader(blob)
    cipher, chunk_size = open_header(read, private_key, binding)
    chunks = list(records(read, chunk_size))  # views into blob: framing checked, no copy
    buffer = preallocated(sum(len(ct) - TAG_LEN for _, _, ct in chunks))
    with buffer.getbuffer() as out:
        position = 0
        for index, flags, ciphertext in chunks:
            size = len(ciphertext) - TAG_LEN
            cipher.decrypt_into(index, flags, ciphertext, out[position : position + size])
            position += size
    return buffer.getvalue()


def open_stream(
    src: ByteSource, dst: BinaryIO, private_key: RSAPrivateKey, binding: Binding
) -> int:
    """Decrypt ``src`` into ``dst`` in constant memory; returns the plaintext bytes written.

    On any error the partial output in ``dst`` must be discarded.
    """
    written = 0
    for chunk in _open_records(lambda n: _read_full(src, n), private_key, binding):
        dst.write(chunk)
        written += len(chunk)
    return written
