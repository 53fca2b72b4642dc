"""Wire format of sealed envelopes: constants, key schedule, header and chunk records.

:mod:`v6lib.crypto.envelope` describes the layout and the order of checks; this module
implements both so that in-memory and streaming entry points share every byte of logic.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from v6lib.crypto.binding import Binding
from v6lib.crypto.keys import fingerprint_bytes
from v6lib.errors import (
    BindingMismatchError,
    EncryptionError,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FINAL",
    "MAGIC",
    "MAX_CHUNK_SIZE",
    "RECORD",
    "TAG_LEN",
    "VERSION",
    "ChunkCipher",
    "check_chunk_size",
    "open_header",
    "preallocated",
    "records",
    "seal_header",
]

MAGIC = b"\x89V6E"
VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20
#: Upper bound on chunk size, so a hostile envelope cannot make us allocate gigabytes.
MAX_CHUNK_SIZE = 64 << 20
_MAX_HEADER = 1 << 20
_PREFIX = struct.Struct(">4sBI")
_BODY_FIXED = struct.Struct(">I4s32sH")
_SLOT_HEAD = struct.Struct(">32sH")
RECORD = struct.Struct(">BI")
_CHUNK_AAD = struct.Struct(">QB")
FINAL = 0x01
TAG_LEN = 16
_MAC_LEN = 32
_KEY_LEN = 32
HAS_INTO = hasattr(AESGCM, "encrypt_into") and hasattr(AESGCM, "decrypt_into")
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)



@dataclass(frozen=True)
class _Keys:
    aead: AESGCM
    mac: bytes
    commit: bytes


def _derive(data_key: bytes) -> _Keys:
    okm = HKDF(
        algorithm=hashes.SHA256(), length=3 * _KEY_LEN, salt=None, info=b"v6lib envelope v1"
    ).derive(data_key)
    return _Keys(AESGCM(okm[:_KEY_LEN]), okm[_KEY_LEN : 2 * _KEY_LEN], okm[2 * _KEY_LEN :])


def _commitment(keys: _Keys, binding: Binding) -> bytes:
    return hmac.new(keys.commit, binding.aad(), hashlib.sha256).digest()


class ChunkCipher:
    """Per-chunk nonce and AAD for one message; the one place GCM is called."""

    def __init__(self, keys: _Keys, nonce_prefix: bytes, header: bytes, binding: Binding):
        self._aead = keys.aead
        self._prefix = nonce_prefix
        self._aad = hashlib.sha256(header).digest() + binding.aad()

    def _params(self, index: int, flags: int) -> tuple[bytes, bytes]:
        return self._prefix + index.to_bytes(8, "big"), self._aad + _CHUNK_AAD.pack(index, flags)

    def encrypt(self, index: int, flags: int, data: bytes | memoryview) -> bytes:
        nonce, aad = self._params(index, flags)
        return self._aead.encrypt(nonce, data, aad)

    def decrypt(self, index: int, flags: int, data: bytes | memoryview) -> bytes:
        nonce, aad = self._params(index, flags)
        try:
            return self._aead.decrypt(nonce, data, aad)
        except InvalidTag:
            raise _tampered_chunk(index) from None

    def encrypt_into(self, index: int, flags: int, data: memoryview, out: memoryview) -> None:
        """Encrypt straight into ``out`` (len(data) + 16 bytes), avoiding a copy."""
        nonce, aad = self._params(index, flags)
        if HAS_INTO:
            self._aead.encrypt_into(nonce, data, aad, out)
        else:  # cryptography < 46
            out[:] = self._aead.encrypt(nonce, data, aad)

    def decrypt_into(self, index: int, flags: int, data: bytes | memoryview,
                     out: memoryview) -> None:
        nonce, aad = self._params(index, flags)
        try:
            if HAS_INTO:
                self._aead.decrypt_into(nonce, data, aad, out)
            else:  # cryptography < 46
                out[:] = self._aead.decrypt(nonce, data, aad)
        except InvalidTag:
            raise _tampered_chunk(index) from None


def _tampered_chunk(index: int) -> TamperedError:
    return TamperedError(
        f"envelope chunk {index} failed authentication: the ciphertext was modified"
    )


def preallocated(size: int) -> io.BytesIO:
    """A zero-filled buffer whose ``getvalue()`` hands back its bytes without a copy.

    Writing chunks straight into it (``*_into``) instead of joining per-chunk outputs saves
    a full pass over the payload, which is most of the cost of an in-memory envelope.
    """
    buffer = io.BytesIO()
    if size:
        buffer.seek(size - 1)
        buffer.write(b"\0")
    return buffer


def _public_keys(recipients: Sequence[RSAPublicKey]) -> list[tuple[bytes, RSAPublicKey]]:
    if isinstance(recipients, RSAPublicKey | RSAPrivateKey):
        recipients = [recipients]  # type: ignore[list-item]
    unique: dict[bytes, RSAPublicKey] = {}
    for key in recipients:
        pub = key.public_key() if isinstance(key, RSAPrivateKey) else key
        if not isinstance(pub, RSAPublicKey):
            raise EncryptionError(f"recipient must be an RSA public key, got {type(key).__name__}")
        unique.setdefault(fingerprint_bytes(pub), pub)
    if not unique:
        raise EncryptionError("cannot seal an envelope for zero recipients")
    if len(unique) > 0xFFFF:
        raise EncryptionError("too many recipients for one envelope (max 65535)")
    return list(unique.items())


def check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise EncryptionError(f"chunk_size must be an int, got {chunk_size!r}")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise EncryptionError(
            f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}"
        )


def seal_header(
    recipients: Sequence[RSAPublicKey], binding: Binding, chunk_size: int
) -> tuple[bytes, ChunkCipher]:
    """The authenticated header of a new envelope and the cipher for its chunks."""
    if not isinstance(binding, Binding):
        raise EncryptionError(f"binding must be a Binding, got {type(binding).__name__}")
    check_chunk_size(chunk_size)
    slots = _public_keys(recipients)
    data_key = os.urandom(_KEY_LEN)
    keys = _derive(data_key)
    nonce_prefix = os.urandom(4)
    parts = [_BODY_FIXED.pack(chunk_size, nonce_prefix, _commitment(keys, binding), len(slots))]
    for fp, pub in slots:
        wrapped = pub.encrypt(data_key, _OAEP)
        parts.append(_SLOT_HEAD.pack(fp, len(wrapped)) + wrapped)
    body = b"".join(parts)
    header = _PREFIX.pack(MAGIC, VERSION, len(body)) + body
    header += hmac.new(keys.mac, header, hashlib.sha256).digest()
    return header, ChunkCipher(keys, nonce_prefix, header, binding)


def _parse_body(body: bytes) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    try:
        chunk_size, nonce_prefix, commitment, count = _BODY_FIXED.unpack_from(body, 0)
        offset = _BODY_FIXED.size
        slots = []
        for _ in range(count):
            fp, length = _SLOT_HEAD.unpack_from(body, offset)
            offset += _SLOT_HEAD.size
            wrapped = body[offset : offset + length]
            if len(wrapped) != length:
                raise struct.error("slot runs past the header")
            offset += length
            slots.append((fp, wrapped))
    except struct.error as exc:
        raise TamperedError(f"envelope header is malformed ({exc}): it was modified") from None
    if offset != len(body):
        raise TamperedError("envelope header has unexpected trailing bytes: it was modified")
    return chunk_size, nonce_prefix, commitment, slots


def _read_prefix(read: Callable[[int], bytes | memoryview]) -> tuple[bytes, int]:
    prefix = bytes(read(_PREFIX.size))
    if prefix[:4] != MAGIC[: min(4, len(prefix))]:
        raise UnsupportedVersionError("not a v6lib envelope (unknown magic bytes)")
    if len(prefix) < _PREFIX.size:
        raise TruncatedError(f"envelope truncated: only {len(prefix)} bytes")
    _, version, header_len = _PREFIX.unpack(prefix)
    if version != VERSION:
        raise UnsupportedVersionError(
            f"envelope version {version} is not supported (this library reads version {VERSION});"
            " upgrade v6lib"
        )
    if not _BODY_FIXED.size <= header_len <= _MAX_HEADER:
        raise TamperedError(f"envelope header length {header_len} is implausible: it was modified")
    return prefix, header_len


def _unwrap(slots: list[tuple[bytes, bytes]], private_key: RSAPrivateKey) -> bytes:
    own = fingerprint_bytes(private_key)
    wrapped = next((w for fp, w in slots if fp == own), None)
    if wrapped is None:
        raise WrongKeyError(
            f"this envelope is addressed to {len(slots)} recipient key(s), none of which is "
            f"the given private key (fingerprint {own.hex()[:16]}...)"
        )
    try:
        data_key = private_key.decrypt(wrapped, _OAEP)
    except ValueError:
        data_key = b""
    if len(data_key) != _KEY_LEN:
        raise TamperedError("the wrapped data key for this recipient was modified")
    return data_key


def open_header(
    read: Callable[[int], bytes | memoryview], private_key: RSAPrivateKey, binding: Binding
) -> tuple[ChunkCipher, int]:
    """Read, authenticate and classify the header; the order of checks is the design."""
    if not isinstance(private_key, RSAPrivateKey):
        raise EncryptionError(f"expected an RSA private key, got {type(private_key).__name__}")
    if not isinstance(binding, Binding):
        raise EncryptionError(f"binding must be a Binding, got {type(binding).__name__}")
    prefix, header_len = _read_prefix(read)
    body = bytes(read(header_len))
    tag = bytes(read(_MAC_LEN))
    if len(body) < header_len or len(tag) < _MAC_LEN:
        raise TruncatedError("envelope truncated inside its header")
    chunk_size, nonce_prefix, commitment, slots = _parse_body(body)
    keys = _derive(_unwrap(slots, private_key))
    header = prefix + body
    if not hmac.compare_digest(hmac.new(keys.mac, header, hashlib.sha256).digest(), tag):
        raise TamperedError("envelope header failed authentication: it was modified")
    if not hmac.compare_digest(_commitment(keys, binding), commitment):
        raise BindingMismatchError(
            "this envelope was sealed for another task, image, initiator, organization or "
            f"purpose than task {binding.task_uid!r} (image {binding.image!r}, initiating "
            f"organization {binding.initiator_id}), organization {binding.organization_id}, "
            f"purpose {binding.purpose!r}"
        )
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise EncryptionError(f"envelope chunk size {chunk_size} exceeds the supported maximum")
    return ChunkCipher(keys, nonce_prefix, header + tag, binding), chunk_size


def records(
    read: Callable[[int], bytes | memoryview], chunk_size: int
) -> Iterator[tuple[int, int, bytes | memoryview]]:
    """Yield ``(index, flags, ciphertext)`` records, checking framing and completeness."""
    index = 0
    while True:
        record = read(RECORD.size)
        if len(record) < RECORD.size:
            raise TruncatedError(f"envelope truncated after {index} chunk(s): final chunk missing")
        flags, ct_len = RECORD.unpack(record)
        if flags & ~FINAL or not TAG_LEN <= ct_len <= chunk_size + TAG_LEN:
            raise TamperedError(f"envelope chunk {index} has a malformed record header")
        ciphertext = read(ct_len)
        if len(ciphertext) < ct_len:
            raise TruncatedError(f"envelope truncated inside chunk {index}")
        yield index, flags, ciphertext
        if flags & FINAL:
            if read(1):
                raise TamperedError("unexpected data after the final envelope chunk")
            return
        index += 1
