"""The ``task`` table: a request to run an image at some organizations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base, CreatedAtMixin, IdMixin


class Task(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "task"
    __table_args__ = (Index("ix_task_collaboration_id_id", "collaboration_id", "id"),)

    uid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(500))
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaboration.id", ondelete="CASCADE")
    )
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("study.id", ondelete="SET NULL"), index=True
    )
    init_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), index=True
    )
    init_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("task.id", ondelete="CASCADE"), index=True
    )
    # Tasks of one job (a top-level task and all its subtasks) share this id and
    # the node's temporary volume.
    job_id: Mapped[int | None] = mapped_column(index=True)
    databases: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    # the researcher's run time limit; nodes apply the shorter of it and their own
    max_run_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
