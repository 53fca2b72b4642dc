"""Check, without any key, that bytes have the complete shape of a sealed envelope.

Why: the server cannot open envelopes, yet it must refuse plaintext in an encrypted
collaboration. Four magic bytes prove nothing (``"\\x89V6E" + json`` would pass), so the
server walks the whole framing instead: prefix, header with at least one recipient slot
of a plausible RSA size, header tag, and chunk records up to a final one with nothing
after it. A payload that passes carries its data only inside AES-GCM records; honest
clients cannot produce one by mistake. The checker is fed piece by piece, so streamed
uploads are checked as they arrive, in constant memory.
"""

from __future__ import annotations

from v6lib.crypto.wire import (
    _BODY_FIXED,
    _MAC_LEN,
    _MAX_HEADER,
    _PREFIX,
    _SLOT_HEAD,
    FINAL,
    MAGIC,
    MAX_CHUNK_SIZE,
    RECORD,
    TAG_LEN,
    VERSION,
)

__all__ = ["EnvelopeShape", "envelope_shape_problem"]

# RSA-OAEP wraps are as long as the modulus: 2048 to 16384 bits.
_WRAP_MIN, _WRAP_MAX = 256, 2048


class EnvelopeShape:
    """Incremental shape check: :meth:`feed` pieces, then :meth:`finish`.

    ``problem`` holds the first reason the bytes are not an envelope (and stays set).
    """

    def __init__(self) -> None:
        self.problem: str | None = None
        self._buffer = bytearray()
        self._need = _PREFIX.size
        self._state = "prefix"
        self._header_len = 0
        self._chunk_size = 0
        self._skip = 0
        self._records = 0
        self._done = False

    def feed(self, data: bytes | memoryview) -> None:
        """Take the next piece of the payload."""
        view = memoryview(data)
        while view and self.problem is None:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            if self._done:
                self.problem = "there are bytes after the final chunk"
                return
            take = min(self._need - len(self._buffer), len(view))
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == self._need:
                piece = bytes(self._buffer)
                self._buffer.clear()
                self._step(piece)

    def finish(self) -> str | None:
        """The problem with the whole payload, or None when it is a complete envelope."""
        if self.problem is None and (not self._done or self._skip or self._buffer):
            self.problem = (f"it ends inside its {self._state}" if self._state != "record"
                            else f"it ends after {self._records} chunk(s) without a final one")
        return self.problem

    def _step(self, piece: bytes) -> None:
        getattr(self, f"_on_{self._state}")(piece)

    def _on_prefix(self, piece: bytes) -> None:
        magic, version, header_len = _PREFIX.unpack(piece)
        if magic != MAGIC:
            self.problem = "it does not start with the envelope's magic bytes"
        elif version != VERSION:
            self.problem = f"envelope version {version} is not one this server knows"
        elif not _BODY_FIXED.size <= header_len <= _MAX_HEADER:
            self.problem = f"its header length {header_len} is implausible"
        else:
            self._header_len, self._state, self._need = header_len, "header", header_len

    def _on_header(self, body: bytes) -> None:
        chunk_size, _nonce, _commit, count = _BODY_FIXED.unpack_from(body, 0)
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            self.problem = f"its chunk size {chunk_size} is out of range"
            return
        if count == 0:
            self.problem = "it has no recipient"
            return
        offset = _BODY_FIXED.size
        for _ in range(count):
            if offset + _SLOT_HEAD.size > len(body):
                self.problem = "a recipient slot runs past the header"
                return
            _fp, length = _SLOT_HEAD.unpack_from(body, offset)
            if not _WRAP_MIN <= length <= _WRAP_MAX:
                self.problem = f"a recipient slot holds {length} bytes, not an RSA-wrapped key"
                return
            offset += _SLOT_HEAD.size + length
        if offset != len(body):
            self.problem = "its header has bytes beyond its recipient slots"
            return
        self._chunk_size, self._state, self._need = chunk_size, "tag", _MAC_LEN

    def _on_tag(self, piece: bytes) -> None:
        self._state, self._need = "record", RECORD.size

    def _on_record(self, piece: bytes) -> None:
        flags, ct_len = RECORD.unpack(piece)
        if flags & ~FINAL or not TAG_LEN <= ct_len <= self._chunk_size + TAG_LEN:
            self.problem = f"chunk {self._records} has a malformed record header"
            return
        self._records += 1
        self._skip = ct_len
        self._done = bool(flags & FINAL)


def envelope_shape_problem(blob: bytes | memoryview) -> str | None:
    """Why ``blob`` is not a complete envelope, or None when it has the shape of one."""
    checker = EnvelopeShape()
    checker.feed(blob)
    return checker.finish()
