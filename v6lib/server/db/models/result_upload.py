"""The ``result_upload`` and ``result_chunk`` tables: big run results stored in pieces.

A result sent raw (``PUT /run/{id}/result``) is written as numbered chunks of at most
a few MiB, each in its own short transaction, under an upload row in state
``uploading``. The last transaction marks the upload ``complete`` and records its size
and SHA-256 on the run: that switch is what makes the new result visible, atomically.
At most one complete upload exists per run; incomplete ones are orphans of an
interrupted request and are deleted by the next upload (see
``v6lib.server.services.result_store``). Both tables cascade from the run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base, IdMixin, UTCDateTime, utcnow

__all__ = ["ResultChunk", "ResultUpload"]


class ResultUpload(IdMixin, Base):
    __tablename__ = "result_upload"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="uploading")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None]


class ResultChunk(Base):
    __tablename__ = "result_chunk"

    upload_id: Mapped[int] = mapped_column(
        ForeignKey("result_upload.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
