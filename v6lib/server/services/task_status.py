"""A task's status kept on the task row (for filtering), derived by the shared rule."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from v6lib.rules.task_status import derive_task_status
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.models import Run, Task

__all__ = ["refresh_task_status"]


def refresh_task_status(session: Session, task: Task) -> RunStatus:
    """Recompute and store the task's status from its runs, in the caller's transaction.

    The task row is locked first. Why: two runs of one task finishing at once would
    otherwise each read the other's old status (PostgreSQL's READ COMMITTED gives every
    statement the snapshot of its start), both derive "active", and the task would stay
    active with every run completed. With the lock the second waits for the first to
    commit, and its read then sees that commit. SQLite serializes writers anyway.
    """
    session.execute(select(Task.id).where(Task.id == task.id).with_for_update())
    statuses = session.scalars(select(Run.status).where(Run.task_id == task.id)
                               .order_by(Run.id)).all()
    status = derive_task_status(statuses)
    task.status = status.value
    return status
