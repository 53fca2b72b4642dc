"""Chunked storage of big run results: write, switch, read and clean up, in short transactions.

Why short transactions: on SQLite one writer holds the whole database, so writing a
300 MB body in one transaction would stall every other API call that writes for as long
as the upload lasts. Each chunk (``CHUNK_BYTES``) is therefore committed on its own, and
the new result becomes visible only in :func:`switch_result`, one small transaction that
marks the upload complete and records its size on the run. The same code runs on
PostgreSQL, where several server instances share only the database: nothing here keeps
state outside the tables.

Upload states: ``uploading`` (being written, or orphaned by an interrupted request),
``complete`` (the run's current result, at most one per run), ``superseded`` (replaced,
waiting to be deleted). Deletion also goes in small batches, for the same reason.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from v6lib.errors import ConflictError
from v6lib.server.db.engine import write_options
from v6lib.server.db.models import ResultChunk, ResultUpload, Run

__all__ = ["CHUNK_BYTES", "ORPHAN_AGE", "ChunkWriter", "StoredResult", "chunk_count",
           "delete_upload", "find_result", "iter_chunks", "sweep_orphans", "switch_result"]

log = logging.getLogger("v6lib.server.results")

#: Bytes per stored chunk: big enough to keep the row count low, small enough that one
#: chunk's transaction is short and one chunk in memory is cheap.
CHUNK_BYTES = 1 << 20
#: An upload still ``uploading`` after this long belongs to a request that died.
ORPHAN_AGE = timedelta(hours=24)
#: A ``superseded`` upload is deleted at once; one left by a crash goes after this.
SUPERSEDED_AGE = timedelta(minutes=10)
_DELETE_BATCH = 16
_READ_BATCH = 4


def _writer(engine: Engine) -> Connection:
    return engine.connect().execution_options(**write_options())


@dataclass
class ChunkWriter:
    """Appends one upload's chunks, each committed in its own transaction.

    ``start`` registers the upload (and drops the run's earlier unfinished uploads: a
    node re-sending after a crash makes them orphans); ``write`` appends; the running
    size and SHA-256 are kept here so nothing has to be read back. One connection is
    kept for the upload; between chunks it holds no transaction, so no lock either.
    """

    engine: Engine
    run_id: int
    upload_id: int | None = None
    size: int = 0
    chunks: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    conn: Connection | None = None

    def start(self, now: datetime) -> int:
        self.conn = _writer(self.engine)
        stale = self.conn.scalars(select(ResultUpload.id).where(
            ResultUpload.run_id == self.run_id, ResultUpload.state == "uploading")).all()
        self.upload_id = int(self.conn.execute(insert(ResultUpload).values(
            run_id=self.run_id, state="uploading", size=0, started_at=now)
            .returning(ResultUpload.id)).scalar_one())
        self.conn.commit()
        for upload_id in stale:
            delete_upload(self.engine, upload_id)
        return self.upload_id

    def write(self, data: bytes) -> None:
        """Store ``data`` (≤ ``CHUNK_BYTES``) as the next chunk."""
        assert self.conn is not None and self.upload_id is not None, "start() the upload first"
        try:
            self.conn.execute(insert(ResultChunk).values(
                upload_id=self.upload_id, seq=self.chunks, data=data))
            self.conn.commit()
        except IntegrityError:
            self.conn.rollback()
            # NOTE: the upload row is gone: a newer upload of the same run removed it.
            raise ConflictError(f"run {self.run_id}: a newer upload of this result replaced "
                                "this one while it was being sent") from None
        self.chunks += 1
        self.size += len(data)
        self.digest.update(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def abort(self) -> None:
        """Best-effort removal of what was written; a failure leaves an orphan to sweep."""
        self.close()
        if self.upload_id is None:
            return
        try:
            delete_upload(self.engine, self.upload_id)
        except OperationalError:
            log.warning("could not remove interrupted upload %s of run %s; it is swept later",
                        self.upload_id, self.run_id, exc_info=True)


def delete_upload(engine: Engine, upload_id: int) -> None:
    """Delete an upload and its chunks, a few chunks per transaction."""
    while True:
        with _writer(engine) as conn:
            seqs = conn.scalars(select(ResultChunk.seq).where(
                ResultChunk.upload_id == upload_id).order_by(ResultChunk.seq)
                .limit(_DELETE_BATCH)).all()
            if not seqs:
                conn.execute(delete(ResultUpload).where(ResultUpload.id == upload_id))
                conn.commit()
                return
            conn.execute(delete(ResultChunk).where(ResultChunk.upload_id == upload_id,
                                                   ResultChunk.seq.in_(seqs)))
            conn.commit()


def sweep_orphans(engine: Engine, now: datetime) -> int:
    """Delete uploads left behind by requests or servers that died; returns how many."""
    with engine.connect() as conn:
        ids = conn.scalars(select(ResultUpload.id).where(
            ((ResultUpload.state == "uploading") & (ResultUpload.started_at < now - ORPHAN_AGE))
            | ((ResultUpload.state == "superseded")
               & (ResultUpload.finished_at < now - SUPERSEDED_AGE)))).all()
    for upload_id in ids:
        delete_upload(engine, upload_id)
    return len(ids)


@dataclass(frozen=True)
class StoredResult:
    """Where a run's result lives: an inline (base64) value or a complete upload."""

    size: int
    sha256: str
    upload_id: int | None = None
    inline: bytes | None = None


def find_result(conn: Connection, run_id: int) -> StoredResult | None:
    """The run's current result, or None; inline (``run.result``) wins over chunks."""
    value = conn.scalar(select(Run.result).where(Run.id == run_id))
    if value is not None:
        data = base64.b64decode(value)
        return StoredResult(size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                            inline=data)
    row = conn.execute(select(ResultUpload.id, ResultUpload.size, ResultUpload.sha256).where(
        ResultUpload.run_id == run_id, ResultUpload.state == "complete")
        .order_by(ResultUpload.id.desc()).limit(1)).first()
    if row is None:
        return None
    return StoredResult(size=int(row.size), sha256=str(row.sha256), upload_id=int(row.id))


def switch_result(engine: Engine, run_id: int, *, upload_id: int | None,
                  inline_b64: str | None, size: int, sha256: str, now: datetime,
                  accept: Callable[[Connection, StoredResult | None], bool]) -> bool:
    """Make the new result the run's, atomically; returns False when it was unchanged.

    ``accept(conn, current)`` runs inside the transaction with the run row locked and
    decides whether the new content may replace ``current`` (raising to refuse); it
    returns False for "identical content, keep what is there". The replaced upload is
    deleted afterwards, outside the switching transaction.
    """
    replaced: list[int] = []
    with _writer(engine) as conn:
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update())
        if upload_id is not None:
            state = conn.scalar(select(ResultUpload.state).where(ResultUpload.id == upload_id))
            if state != "uploading":
                raise ConflictError(f"run {run_id}: a newer upload of this result replaced "
                                    "this one while it was being sent")
        current = find_result(conn, run_id)
        if not accept(conn, current):
            conn.rollback()
            return False
        replaced = list(conn.scalars(select(ResultUpload.id).where(
            ResultUpload.run_id == run_id, ResultUpload.state == "complete")).all())
        if replaced:
            conn.execute(update(ResultUpload).where(ResultUpload.id.in_(replaced))
                         .values(state="superseded", finished_at=now))
        if upload_id is not None:
            conn.execute(update(ResultUpload).where(ResultUpload.id == upload_id).values(
                state="complete", size=size, sha256=sha256, finished_at=now))
        conn.execute(update(Run).where(Run.id == run_id).values(
            result=inline_b64, result_size=None if inline_b64 is not None else size))
        conn.commit()
    for old in replaced:
        delete_upload(engine, old)
    return True


def iter_chunks(engine: Engine, upload_id: int, size: int) -> Iterator[bytes]:
    """Yield an upload's bytes chunk by chunk, a few chunks per short read transaction.

    Raises ``ConflictError`` when chunks vanish underneath (the result was replaced
    mid-download): the response is then cut short, which the client detects by its
    Content-Length and SHA-256.
    """
    seq, sent = 0, 0
    while sent < size:
        with engine.connect() as conn:
            rows = conn.execute(select(ResultChunk.seq, ResultChunk.data).where(
                ResultChunk.upload_id == upload_id, ResultChunk.seq >= seq)
                .order_by(ResultChunk.seq).limit(_READ_BATCH)).all()
        if not rows:
            break
        for row in rows:
            if row.seq != seq:
                break
            data = bytes(row.data)
            sent += len(data)
            seq += 1
            yield data
        else:
            continue
        break
    if sent != size:
        raise ConflictError(f"result upload {upload_id} changed while it was being read "
                            f"({sent} of {size} bytes sent)")


def chunk_count(conn: Connection, upload_id: int) -> int:
    """How many chunks an upload has (tests and diagnostics)."""
    return int(conn.scalar(select(func.count()).select_from(ResultChunk)
                           .where(ResultChunk.upload_id == upload_id)) or 0)
