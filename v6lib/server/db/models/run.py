"""The ``run`` table: one organization's execution of a task, with input and result."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base, IdMixin


class Run(IdMixin, Base):
    __tablename__ = "run"
    # NOTE: (organization_id, task_id) gives an organization's tasks in id order from the
    # index alone: task lists page through it (permissions.task_visibility)
    __table_args__ = (Index("ix_run_organization_id_status", "organization_id", "status"),
                      Index("ix_run_organization_id_task_id", "organization_id", "task_id"))

    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(30), default="pending")
    input: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str | None] = mapped_column(Text)
    # size of a result stored in chunks (PUT /run/{id}/result); None when it is in ``result``
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    log: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    assigned_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # the algorithm's progress as its node forwarded it (v6lib.rules.progress)
    progress: Mapped[float | None] = mapped_column(Float)
    progress_message: Mapped[str | None] = mapped_column(String(80))
