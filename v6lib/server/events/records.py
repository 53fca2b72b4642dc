"""Immutable event records handed to waiters, detached from any database session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from v6lib.schemas.event import EventOut

__all__ = ["CHANNEL", "COLUMNS", "EventRecord", "Match"]

#: The PostgreSQL NOTIFY channel that tells other processes of new events.
CHANNEL = "v6_events"

#: Columns read from the ``event`` table, in ``EventRecord`` field order.
COLUMNS = (
    "id",
    "type",
    "task_id",
    "run_id",
    "organization_id",
    "collaboration_id",
    "status",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event as stored; ``collaboration_id`` is kept for filtering, not sent."""

    id: int
    type: str
    task_id: int
    run_id: int | None
    organization_id: int | None
    collaboration_id: int | None
    status: str | None
    created_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> EventRecord:
        return cls(*row)

    def to_out(self) -> EventOut:
        """The wire shape of ``GET /event``."""
        return EventOut(
            id=self.id,
            type=self.type,
            task_id=self.task_id,
            run_id=self.run_id,
            organization_id=self.organization_id,
            status=self.status,
        )


#: Decides whether a waiter wants an event (e.g. "same organization as this node").
Match = Callable[[EventRecord], bool]
