"""The tables of the node's run journal, and how a file written by an older version is
brought up to date.

Why apart from :mod:`v6lib.node.journal`: the journal's logic (states, transitions,
pruning) reads better without the column list, and the upgrade steps for existing
files (new columns, a backfill) have one place. Every upgrade is additive and runs at
start-up, before any run is handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, Engine, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from v6lib.schemas.run_status import RunStatus

__all__ = ["IN_FLIGHT", "JournalEntry", "LocalState", "TaskUid", "create_or_upgrade",
           "sqlite_pragmas"]


class LocalState(StrEnum):
    RECEIVED = "received"
    STARTING = "starting"
    STARTED = "started"
    FINISHED = "finished"
    UPLOADED = "uploaded"
    DROPPED = "dropped"


IN_FLIGHT = (LocalState.RECEIVED, LocalState.STARTING, LocalState.STARTED)


class Base(DeclarativeBase):
    pass


class Row(Base):
    """One run's journal row."""

    __tablename__ = "node_run"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    task_id: Mapped[int] = mapped_column(Integer, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    task_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image: Mapped[str] = mapped_column(String(512), default="")
    init_org_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    # SHA-256 of the run's container token: what the proxy accepts while the run is in
    # flight (v6lib.node.run_tokens), also after a restart of the node.
    token_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    handle: Mapped[str | None] = mapped_column(String(256), nullable=True)
    active_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    log: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # when the run's container/process started: the node's run time limit counts from
    # here, also across a restart of the node
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # the task's own time limit (the node applies the shorter of it and its own)
    max_run_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class TaskUid(Base):
    """Each task uid this node has seen, with the task and run that used it first.

    Why a table of its own: run rows are pruned after the retention, but a sealed input
    replayed in a re-created task must be refused however late it comes. One small row
    per task; never pruned. The run id is what tells the tasks apart: a node gets one
    run per task, while a task id is only as unique as the server keeps it (servers on
    SQLite before ids were never reused gave a re-created task the deleted one's id).
    """

    __tablename__ = "node_task_uid"

    task_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class JournalEntry:
    """A snapshot of one run's journal row."""

    run_id: int
    task_id: int
    job_id: int | None
    task_uid: str | None
    image: str
    init_org_id: int | None
    recipient_key: str | None
    token_digest: str | None
    state: LocalState
    handle: str | None
    active_reported: bool
    status: str | None
    result: bytes | None
    log: str | None
    reason: str | None
    attempts: int
    note: str | None
    started_at: datetime | None = None
    max_run_seconds: float | None = None

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT

    @property
    def outcome(self) -> RunStatus:
        """The final status journaled for delivery; a ValueError before there is one."""
        if self.status is None:
            raise ValueError(f"run {self.run_id} has no outcome journaled yet")
        return RunStatus(self.status)


def snapshot(row: Row) -> JournalEntry:
    return JournalEntry(
        run_id=row.run_id, task_id=row.task_id, job_id=row.job_id, task_uid=row.task_uid,
        image=row.image, init_org_id=row.init_org_id, recipient_key=row.recipient_key,
        token_digest=row.token_digest, state=LocalState(row.state), handle=row.handle,
        active_reported=row.active_reported, status=row.status, result=row.result,
        log=row.log, reason=row.reason, attempts=row.attempts, note=row.note,
        started_at=row.started_at, max_run_seconds=row.max_run_seconds,
    )


def create_or_upgrade(engine: Engine) -> None:
    """Create missing tables; add columns and rows an older version's file lacks."""
    with engine.connect() as conn:
        had_uids = bool(conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name='node_task_uid'").scalar())
        columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(node_run)")}
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        if columns and "token_digest" not in columns:
            conn.exec_driver_sql("ALTER TABLE node_run ADD COLUMN token_digest VARCHAR(64)")
        if columns and "started_at" not in columns:
            conn.exec_driver_sql("ALTER TABLE node_run ADD COLUMN started_at DATETIME")
        if columns and "max_run_seconds" not in columns:
            conn.exec_driver_sql("ALTER TABLE node_run ADD COLUMN max_run_seconds FLOAT")
        if not had_uids:  # the uids of runs journaled before the table existed
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO node_task_uid (task_uid, task_id, run_id, first_seen) "
                "SELECT task_uid, task_id, run_id, created_at FROM node_run "
                "WHERE task_uid IS NOT NULL ORDER BY run_id")


def sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # Takes effect only for a new, empty file: space freed by prune() can then be handed
    # back page by page (see Journal._enable_incremental_vacuum for older files).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    # WAL + FULL sync: a committed journal entry survives a crash of the process or host.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
