"""The ``event`` table: a short-lived log of run changes that wakes long-polling nodes.

The autoincrement id is the cursor clients pass back as ``since``. Rows are small and
pruned after a while (``prune_events``); nothing references them, so deleting a task
never waits on its events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from v6lib.server.db.base import Base, UTCDateTime, utcnow

__all__ = ["Event", "prune_events"]


class Event(Base):
    __tablename__ = "event"
    # NOTE: AUTOINCREMENT on SQLite so ids are never reused after pruning; a reused id
    # would look "older" than a client's cursor and the event would be missed.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    organization_id: Mapped[int | None] = mapped_column(Integer)
    collaboration_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def prune_events(bind: Session | Connection, *, older_than: datetime) -> int:
    """Delete events created before ``older_than``; returns how many were deleted.

    The newest event is always kept so the id sequence can never restart below a
    cursor a client still holds (belt and braces next to SQLite's AUTOINCREMENT).
    The caller commits.
    """
    newest = select(func.max(Event.id)).scalar_subquery()
    # NOTE: a DELETE answers a CursorResult (which has rowcount); execute() is typed
    # for every statement, hence the cast.
    result = cast(CursorResult[Any], bind.execute(
        delete(Event).where(Event.created_at < older_than, Event.id < newest),
        execution_options={"synchronize_session": False},
    ))
    return int(result.rowcount or 0)
