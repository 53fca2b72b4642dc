"""Event payloads delivered by the long-poll ``GET /event``."""

from __future__ import annotations

from enum import StrEnum

from ._base import OutModel

__all__ = ["EventOut", "EventType", "EventsOut"]


class EventType(StrEnum):
    RUN_CREATED = "run_created"
    RUN_UPDATED = "run_updated"
    TASK_KILLED = "task_killed"


class EventOut(OutModel):
    id: int
    type: EventType
    task_id: int
    run_id: int | None = None
    organization_id: int | None = None
    status: str | None = None


class EventsOut(OutModel):
    events: list[EventOut]
    cursor: int
