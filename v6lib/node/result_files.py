"""Big run outcomes kept as files next to the journal, and their streamed upload.

Why: an algorithm may write hundreds of megabytes. Holding that in the journal as a BLOB
means reading it into memory, sealing it into a second copy and base64-encoding a third
for a JSON body the server would refuse anyway. Outputs above ``BIG_RESULT_BYTES`` are
instead sealed (or copied, in a plain collaboration) by streaming from the output file
into ``<journal dir>/node-results/run-<id>.result``, made durable *before* the journal
records the outcome, and sent with the streaming ``PUT /run/{id}/result`` before the
status PATCH. The upload is idempotent on the server (same bytes: no-op), so re-sending
after a crash at any point is safe; the file is deleted once the outcome is delivered.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import requests

from v6lib import errors
from v6lib.client.transport import Transport, raise_for_error
from v6lib.crypto import Binding, RSAPublicKey, seal_stream
from v6lib.private_files import make_private_dir, private_opener
from v6lib.schemas.run import INLINE_RESULT_BYTES, RunResultOut

__all__ = ["BIG_RESULT_BYTES", "ResultFiles", "upload_result_file"]

log = logging.getLogger(__name__)

#: Outputs larger than this travel as a file and a raw upload instead of a journal BLOB.
BIG_RESULT_BYTES = INLINE_RESULT_BYTES
_COPY_BYTES = 1 << 20


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ResultFiles:
    """The directory of outcome files waiting for upload, one per run."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        make_private_dir(self.directory)

    def path(self, run_id: int) -> Path:
        return self.directory / f"run-{int(run_id)}.result"

    def exists(self, run_id: int) -> bool:
        return self.path(run_id).is_file()

    def store(self, run_id: int, source: BinaryIO, *,
              recipient: RSAPublicKey | None = None, binding: Binding | None = None) -> int:
        """Seal (``recipient`` and ``binding`` given) or copy ``source`` into the run's file.

        ``source`` is a stream, not a path: the node reads an algorithm's output only
        through the descriptor it checked (:mod:`v6lib.node.untrusted_files`). Written to
        a temporary name, fsynced and renamed, so the file is either complete or absent
        whatever happens (a failed read leaves nothing); returns its size.
        """
        target = self.path(run_id)
        partial = target.with_suffix(".partial")
        try:
            with open(partial, "wb", opener=private_opener) as dst:
                if recipient is not None and binding is not None:
                    seal_stream(source, dst, [recipient], binding)
                else:
                    shutil.copyfileobj(source, dst, _COPY_BYTES)
                dst.flush()
                os.fsync(dst.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        _fsync_dir(self.directory)
        return target.stat().st_size

    def discard(self, run_id: int) -> None:
        self.path(run_id).unlink(missing_ok=True)
        self.path(run_id).with_suffix(".partial").unlink(missing_ok=True)

    def discard_except(self, keep: Iterable[int]) -> int:
        """Delete the files of runs not in ``keep`` (delivered, dropped, or never
        journaled as finished); returns how many went."""
        wanted = {self.path(run_id).name for run_id in keep}
        removed = 0
        for path in self.directory.glob("run-*"):
            if path.name not in wanted:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(_COPY_BYTES):
            digest.update(piece)
    return digest.hexdigest()


def _put(transport: Transport, url: str, path: Path, sha256: str) -> requests.Response:
    headers = {"Content-Type": "application/octet-stream", "X-Result-SHA256": sha256}
    if transport.token:
        headers["Authorization"] = f"Bearer {transport.token}"
    try:
        with path.open("rb") as body:
            # NOTE: requests streams a file object and sets Content-Length from its size.
            return transport.session.put(url, data=body, headers=headers,
                                         timeout=transport.timeout)
    except requests.RequestException as exc:
        raise errors.ServerUnavailableError(
            f"cannot reach {transport.base_url}: {exc.__class__.__name__}: {exc}") from exc


def upload_result_file(transport: Transport, run_id: int, path: Path) -> RunResultOut:
    """``PUT /run/{run_id}/result`` with the file's bytes, streamed; the server's answer.

    Raises the ``v6lib.errors`` class of a refusal (409 when the run ended with other
    bytes, 413 above the server's ``max_result_bytes``), ``ServerUnavailableError`` when
    the server cannot be reached.
    """
    url = transport.url(f"/run/{int(run_id)}/result")
    # NOTE: the digest lets the server check the body, and skip storing a resend of
    # the result it already holds (after a crash between upload and status report).
    sha256 = _sha256_of(path)
    response = _put(transport, url, path, sha256)
    if response.status_code == 401 and transport.refresh is not None:
        token = transport.refresh()
        if token:
            transport.token = token
            response = _put(transport, url, path, sha256)
    raise_for_error(response)
    stored = RunResultOut.from_reply(response.json())
    log.info("run %d: result of %d bytes uploaded (%s)", run_id, stored.size,
             "stored" if stored.changed else "already there")
    return stored
