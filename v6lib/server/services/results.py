"""Run results as raw bytes: a node streams one in (PUT), anyone who may see the run reads it.

The JSON path (``PATCH /run/{id}`` with a base64 ``result``) holds the whole value in
memory several times and is capped by ``max_request_bytes``. Here the body is read in
``CHUNK_BYTES`` pieces and stored by :mod:`v6lib.server.services.result_store` in short
transactions, so memory stays flat and other requests keep getting the write lock.
A result up to ``INLINE_RESULT_BYTES`` is stored inline (``run.result``), exactly like
one sent with the PATCH, so JSON readers see no difference.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from v6lib.byte_source import ByteSource
from v6lib.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from v6lib.schemas.run import INLINE_RESULT_BYTES
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.models import Collaboration, Run
from v6lib.server.services.common import get_visible
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.result_store import (
    CHUNK_BYTES,
    ChunkWriter,
    StoredResult,
    find_result,
    iter_chunks,
    sweep_orphans,
    switch_result,
)
from v6lib.server.services.runs import check_owner
from v6lib.server.services.sealed import SealedStream

__all__ = ["ReceivedResult", "open_result", "receive_result"]


@dataclass(frozen=True)
class ReceivedResult:
    """What ``PUT /run/{id}/result`` stored: size, digest, where, and whether it changed."""

    run_id: int
    size: int
    sha256: str
    stored: str  # "inline" or "chunks"
    changed: bool


class _Body:
    """Reads a request body in pieces, enforcing the size limit and the announced length."""

    def __init__(self, stream: ByteSource, length: int | None, limit: int,
                 sealed: SealedStream | None = None) -> None:
        self.stream, self.length, self.limit = stream, length, limit
        self.sealed = sealed
        self.total = 0
        self.done = False

    def read(self, n: int = CHUNK_BYTES) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n and not self.done:
            try:
                piece = self.stream.read(n - got)
            except (OSError, ValueError) as exc:
                raise ValidationError(f"the result body could not be read to its end ({exc}); "
                                      "send it again") from None
            if not piece:
                self.done = True
                break
            parts.append(piece)
            got += len(piece)
        self.total += got
        if self.total > self.limit:
            raise PayloadTooLargeError(
                f"result body is above the limit of {self.limit} bytes (max_result_bytes)")
        if self.done and self.length is not None and self.total < self.length:
            raise ValidationError(f"the result body ended after {self.total} of the "
                                  f"{self.length} bytes announced; send it again")
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if self.sealed is not None:
            self.sealed.feed(data)
            if self.done:
                self.sealed.check()
        return data


def _engine(ctx: ServiceContext) -> Engine:
    bind = ctx.session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _owned_run(ctx: ServiceContext, run_id: int) -> tuple[Run, Collaboration | None]:
    """The run, if the caller is the node of its organization in its collaboration."""
    run = get_visible(ctx.session, Run, run_id, ctx.me, "run")
    task = check_owner(ctx, run, "send its result")
    return run, ctx.session.get(Collaboration, task.collaboration_id)


def _check_head(head: bytes) -> None:
    if not head:
        raise ValidationError("a result body is required (Content-Type: "
                              "application/octet-stream)", details={"field": "(body)"})


def _unchanged_or_refuse(run_id: int, current: StoredResult | None, sha256: str,
                         status: RunStatus) -> ReceivedResult:
    """A run that ended keeps its result: only an identical resend is accepted (no-op)."""
    if current is not None and current.sha256 == sha256:
        return ReceivedResult(run_id, current.size, sha256,
                              "inline" if current.inline is not None else "chunks", False)
    raise ConflictError(
        f"run {run_id} has already ended ({status.value!r}); its result can no longer change",
        details={"current": status.value})


@dataclass
class _Upload:
    """One upload in progress: where it goes and what the body must match."""

    engine: Engine
    run_id: int
    status: RunStatus
    declared: str | None
    now: datetime


def receive_result(ctx: ServiceContext, run_id: int, body: ByteSource,
                   length: int | None, declared_sha256: str | None = None) -> ReceivedResult:
    """Store the raw result body of a run, streamed; replaces an earlier one while running.

    Sending the same bytes again is a no-op (200, ``changed`` false), also after the run
    ended, so a node that crashed between upload and status update can simply resend.
    ``declared_sha256`` (the ``X-Result-SHA256`` header) is checked against the body,
    and when it names the result already stored the body is only hashed, not stored.
    """
    declared = _declared(declared_sha256)
    run, collaboration = _owned_run(ctx, run_id)
    status = RunStatus(run.status)
    if status is RunStatus.PENDING:
        raise ConflictError(f"run {run_id} is pending: it must be claimed (initializing or "
                            "active) before it can have a result",
                            details={"current": status.value})
    limit = ctx.settings.max_result_bytes
    if length is not None and length > limit:
        raise PayloadTooLargeError(
            f"result body of {length} bytes is above the limit of {limit} bytes "
            "(max_result_bytes)")
    up = _Upload(_engine(ctx), run_id, status, declared, ctx.now())
    # NOTE: end the request's transaction before the body is read: it holds SQLite's
    # write lock (BEGIN IMMEDIATE), which must not be kept for the whole upload.
    ctx.session.commit()
    encrypted = bool(collaboration is not None and collaboration.encrypted)
    # NOTE: an encrypted collaboration's result is checked piece by piece as it is read,
    # so plaintext is refused before anything of it is stored.
    sealed = SealedStream(field="result", organization_id=run.organization_id) \
        if encrypted else None
    reader = _Body(body, length, limit, sealed)
    head = reader.read()
    _check_head(head)
    if status.is_terminal or declared is not None:
        unchanged = _resend(up, reader, head, length)
        if unchanged is not None:
            return unchanged
    pending, total = [head], len(head)
    while total <= INLINE_RESULT_BYTES and not reader.done:
        piece = reader.read()
        pending.append(piece)
        total += len(piece)
    if total <= INLINE_RESULT_BYTES:
        return _store_inline(up, b"".join(pending))
    return _store_chunks(up, reader, pending)


def _resend(up: _Upload, reader: _Body, head: bytes, length: int | None
            ) -> ReceivedResult | None:
    """Hash, without storing, a body that can only be the result already there.

    That is any body for a run that ended, and one whose declared digest and length are
    those of the stored result; None means "store it".
    """
    with up.engine.connect() as conn:
        current = find_result(conn, up.run_id)
    if up.status.is_terminal and current is None:
        raise ConflictError(
            f"run {up.run_id} has already ended ({up.status.value!r}) without a result; a "
            "result must be sent before the final status", details={"current": up.status.value})
    same = current is not None and current.sha256 == up.declared and current.size == length
    if not (up.status.is_terminal or same):
        return None
    sha = _drain(reader, head)
    _check_declared(sha, up.declared)
    return _unchanged_or_refuse(up.run_id, current, sha, up.status)


def _store_inline(up: _Upload, data: bytes) -> ReceivedResult:
    sha = hashlib.sha256(data).hexdigest()
    _check_declared(sha, up.declared)
    changed = switch_result(up.engine, up.run_id, upload_id=None,
                            inline_b64=base64.b64encode(data).decode("ascii"),
                            size=len(data), sha256=sha, now=up.now,
                            accept=_acceptor(up.run_id, sha))
    return ReceivedResult(up.run_id, len(data), sha, "inline", changed)


def _store_chunks(up: _Upload, reader: _Body, pending: list[bytes]) -> ReceivedResult:
    """Write the body as chunks, then switch the run to it; nothing is left on failure."""
    sweep_orphans(up.engine, up.now)
    writer = ChunkWriter(up.engine, up.run_id)
    try:
        writer.start(up.now)
        for piece in pending:
            writer.write(piece)
        pending.clear()
        while not reader.done:
            piece = reader.read()
            if piece:
                writer.write(piece)
        writer.close()
        sha = writer.digest.hexdigest()
        _check_declared(sha, up.declared)
        changed = switch_result(up.engine, up.run_id, upload_id=writer.upload_id,
                                inline_b64=None, size=writer.size, sha256=sha, now=up.now,
                                accept=_acceptor(up.run_id, sha))
    except BaseException:
        writer.abort()
        raise
    if not changed:
        writer.abort()
    return ReceivedResult(up.run_id, writer.size, sha, "chunks", changed)


def _acceptor(run_id: int, sha256: str) -> Callable[[Connection, StoredResult | None], bool]:
    """The switch's decision, taken with the run locked: same bytes -> keep; ended -> 409."""

    def accept(conn: Connection, current: StoredResult | None) -> bool:
        if current is not None and current.sha256 == sha256:
            return False
        status = RunStatus(conn.execute(select(Run.status).where(Run.id == run_id)).scalar_one())
        if status.is_terminal:
            _unchanged_or_refuse(run_id, current, sha256, status)
        return True

    return accept


def _drain(reader: _Body, head: bytes) -> str:
    """The SHA-256 of the whole body, read to its end without storing anything."""
    digest = hashlib.sha256(head)
    while not reader.done:
        digest.update(reader.read())
    return digest.hexdigest()


def _declared(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValidationError("X-Result-SHA256 must be the 64 hex digits of the body's SHA-256",
                              details={"field": "X-Result-SHA256"})
    return value


def _check_declared(sha256: str, declared: str | None) -> None:
    if declared is not None and sha256 != declared:
        raise ValidationError(
            "the result body does not match its X-Result-SHA256 header: it was damaged on "
            "the way; send it again", details={"field": "X-Result-SHA256"})


def open_result(ctx: ServiceContext, run_id: int) -> tuple[StoredResult, Iterator[bytes]]:
    """The run's result for whoever may view the run: its size, digest and its bytes."""
    run = get_visible(ctx.session, Run, run_id, ctx.me, "run")
    stored = find_result(ctx.session.connection(), run.id)
    if stored is None:
        raise NotFoundError(f"run {run_id} has no result (status {run.status!r})")
    if stored.inline is not None:
        return stored, iter((stored.inline,))
    assert stored.upload_id is not None
    return stored, iter_chunks(_engine(ctx), stored.upload_id, stored.size)
