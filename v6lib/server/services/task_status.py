"""A task's status kept on the task row (for filtering), derived by the shared rule."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from v6lib.rules.task_status import derive_task_status
from v6lib.schemas.run_status import RunStatus
from v6lib.server.db.models import Run, Task

__all__ = ["refresh_task_status"]


def refresh_task_status(session: Session, task: Task) -> RunStatus:
    statuses = session.scalars(select(Run.status).where(Run.task_id == task.id)
                               .order_by(Run.id)).all()
    status = derive_task_status(statuses)
    task.status = status.value
    return status
