"""What reading a stream of bytes needs: one ``read``.

Why a protocol rather than ``BinaryIO``: the streams v6lib decrypts and stores are
request bodies, HTTP responses and small wrappers around them, none of them files;
each offers ``read`` and nothing else is used.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ByteSource"]


class ByteSource(Protocol):
    """Anything with ``read(n)`` answering at most ``n`` bytes, ``b""`` at the end."""

    def read(self, size: int = ..., /) -> bytes: ...
