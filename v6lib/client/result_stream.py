"""Fetch a run's result as raw bytes (``GET /run/{id}/result``), streamed and verified.

Results above the server's inline limit arrive as ``result: null`` plus ``result_size``
in JSON; their bytes come from the raw endpoint. The body is read straight from the
socket in pieces, checked against ``Content-Length`` and the ``X-Result-SHA256`` digest
as it goes, so a caller that decrypts or decodes it never needs a second full copy.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from v6lib import errors
from v6lib.client.transport import Transport, raise_for_error
from v6lib.crypto.wire import preallocated

__all__ = ["READ_BYTES", "SHA256_HEADER", "VerifiedBody", "open_result_stream"]

#: Bytes asked of the socket per read.
READ_BYTES = 1 << 20
SHA256_HEADER = "X-Result-SHA256"


class VerifiedBody(io.RawIOBase):
    """A file-like view of a response body that counts and hashes what is read.

    At the end of the body it raises ``TruncatedError`` when fewer bytes came than
    announced, and ``TamperedError`` when the digest differs from the server's.
    """

    def __init__(self, response: requests.Response, size: int, sha256: str | None) -> None:
        self.raw = response.raw
        self.size = size
        self.expected = sha256
        self.got = 0
        self.digest = hashlib.sha256()
        self.finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.size - self.got, READ_BYTES)
        if want <= 0:
            self._finish()
            return 0
        try:
            n = self.raw.readinto(view[:want])
        except (OSError, requests.RequestException, ValueError) as exc:
            raise errors.ServerUnavailableError(
                f"the result download broke off after {self.got} of {self.size} bytes: {exc}"
            ) from exc
        if not n:
            self._finish()
            return 0
        self.digest.update(view[:n])
        self.got += n
        if self.got == self.size:
            self._finish()
        return int(n)

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.got < self.size:
            raise errors.TruncatedError(
                f"the result download ended after {self.got} of {self.size} bytes; "
                "it may have been replaced meanwhile: fetch it again")
        if self.expected and self.digest.hexdigest() != self.expected.lower():
            raise errors.TamperedError(
                "the downloaded result does not match the SHA-256 the server announced")

    def read_all(self) -> bytes:
        """The whole body in one preallocated buffer: the only copy held."""
        buffer = preallocated(self.size)
        with buffer.getbuffer() as view:
            position = 0
            while position < self.size:
                n = self.readinto(view[position:])
                if not n:
                    break
                position += n
        self._finish()
        return buffer.getvalue()


def _send(transport: Transport, path: str) -> requests.Response:
    headers = {"Accept": "application/octet-stream"}
    if transport.token:
        headers["Authorization"] = f"Bearer {transport.token}"
    try:
        return transport.session.get(transport.url(path), headers=headers, stream=True,
                                     timeout=transport.timeout)
    except requests.RequestException as exc:
        raise errors.ServerUnavailableError(
            f"cannot reach {transport.base_url}: {exc.__class__.__name__}: {exc}") from exc


@contextmanager
def open_result_stream(transport: Transport, run_id: int) -> Iterator[VerifiedBody]:
    """``GET /run/{run_id}/result`` as a verified stream; closes the connection after."""
    path = f"/run/{int(run_id)}/result"
    response = _send(transport, path)
    if response.status_code == 401 and transport.refresh is not None:
        response.close()
        token = transport.refresh()
        if token:
            transport.token = token
        response = _send(transport, path)
    try:
        if not response.ok:
            response.content  # noqa: B018  (the error body is small JSON; read it)
            raise_for_error(response)
        length = response.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise errors.ValidationError(
                f"the server answered run {run_id}'s result without a Content-Length")
        yield VerifiedBody(response, int(length), response.headers.get(SHA256_HEADER))
    finally:
        response.close()
