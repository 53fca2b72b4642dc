"""The node's run journal: every run's local state, durable on disk before the node acts.

Why: a node may die at any instant (SIGKILL, power cut). Each step is written to a local
SQLite database (through SQLAlchemy) *before* the node acts on it or reports it, so a
restarted node knows exactly which runs it received, which container it started, and
which finished results still wait for upload. Nothing leaves the journal except by a
confirmed upload (``uploaded``) or an explicit, logged decision (``dropped``).

Task uids are remembered apart from the runs, and never pruned: a sealed input replayed
in a re-created task is refused however late it comes (:meth:`Journal.record_task_uid`).
The tables and the upgrade of older files are in :mod:`v6lib.node.journal_schema`.

Big outcomes are not kept in the journal: they wait as files in ``node-results/`` next
to it (:mod:`v6lib.node.result_files`), written before the outcome is journaled and
deleted when it is delivered or dropped.

Done entries (``uploaded``, ``dropped``) lose their result and log at once but keep their
row, so a late event for the run is still recognised as done; :meth:`Journal.prune`
deletes them after a retention (the server then holds the run as terminal, so it is
never offered again) and hands the freed pages back to the file system incrementally.

States::

    received ─► starting ─► started ─► finished ─► uploaded
        │            │          │           └────► dropped (server killed the run; logged)
        └────────────┴──────────┴─► finished (refused, start failed, killed, crashed)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, event, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from v6lib.errors import ConfigurationError
from v6lib.node.journal_schema import (
    IN_FLIGHT,
    JournalEntry,
    LocalState,
    Row,
    TaskUid,
    create_or_upgrade,
    snapshot,
    sqlite_pragmas,
)
from v6lib.node.result_files import ResultFiles
from v6lib.private_files import private_sqlite_file

__all__ = ["DEFAULT_RETENTION", "Journal", "JournalEntry", "LocalState"]

log = logging.getLogger(__name__)

DEFAULT_RETENTION = timedelta(days=7)
_PRUNE_BATCH = 500  # rows deleted per transaction, so runs never wait long on the lock
_VACUUM_PAGES = 2048  # pages (4 KiB each by default) returned to the disk per prune
DONE = (LocalState.UPLOADED, LocalState.DROPPED)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Journal:
    """SQLite-backed journal; safe to share between the node's threads.

    Args:
        path: the database file (created with its directory), or ``":memory:"`` in tests.
        clock: returns the current UTC time (injected for tests).
        retention: how long a done (uploaded or dropped) row is kept before
            :meth:`prune` deletes it; measured from its last change.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = _utcnow,
                 retention: timedelta = DEFAULT_RETENTION) -> None:
        if retention <= timedelta(0):
            raise ConfigurationError(
                f"journal retention must be positive, got {retention}; done runs must be "
                "remembered for a while so a late event cannot start them again")
        if str(path) != ":memory:":
            private_sqlite_file(path)  # 0600, and so its -wal/-shm files
        self.path = path
        self.retention = retention
        # big outcomes wait for upload as files next to the journal, not as BLOBs in it
        # (v6lib.node.result_files); an in-memory journal (tests) keeps them inline
        self.results: ResultFiles | None = None if str(path) == ":memory:" else \
            ResultFiles(Path(path).parent / "node-results")
        self._clock = clock
        self._lock = threading.RLock()
        memory = str(path) == ":memory:"
        self._engine = create_engine(
            "sqlite://" if memory else f"sqlite:///{path}",
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )
        event.listen(self._engine, "connect", sqlite_pragmas)
        if not memory:
            self._enable_incremental_vacuum()
        create_or_upgrade(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    # -- writes -------------------------------------------------------------------------
    def receive(
        self,
        run_id: int,
        *,
        task_id: int,
        job_id: int | None = None,
        task_uid: str | None = None,
        image: str = "",
        init_org_id: int | None = None,
        recipient_key: str | None = None,
    ) -> bool:
        """Record a run the node is about to handle; False if it is already journaled."""
        with self._lock, Session(self._engine) as s, s.begin():
            if s.get(Row, run_id) is not None:
                return False
            now = self._clock()
            s.add(Row(
                run_id=run_id, task_id=task_id, job_id=job_id, task_uid=task_uid, image=image,
                init_org_id=init_org_id, recipient_key=recipient_key,
                state=LocalState.RECEIVED.value, active_reported=False, attempts=0,
                created_at=now, updated_at=now,
            ))
            return True

    def update(self, run_id: int, **fields: object) -> None:
        """Set fields of a run's row (e.g. ``recipient_key``, ``active_reported``)."""
        with self._lock, Session(self._engine) as s, s.begin():
            row = self._row(s, run_id)
            for name, value in fields.items():
                if not hasattr(Row, name) or name in ("run_id", "state"):
                    raise ValueError(f"journal has no updatable field {name!r}")
                setattr(row, name, value)
            row.updated_at = self._clock()

    def mark_starting(self, run_id: int) -> bool:
        return self._transition(run_id, LocalState.STARTING, IN_FLIGHT)

    def mark_started(self, run_id: int, handle: str) -> bool:
        """False when the run ended meanwhile (killed while starting)."""
        return self._transition(run_id, LocalState.STARTED, IN_FLIGHT, handle=handle,
                                started_at=self._clock())

    def now(self) -> datetime:
        """The journal's current time (UTC), against which its timestamps compare."""
        return self._clock()

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        result: bytes | None = None,
        log: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Record a terminal outcome; False (and nothing changes) if already finished."""
        return self._transition(
            run_id, LocalState.FINISHED, IN_FLIGHT,
            status=status, result=result, log=log, reason=reason,
        )

    def mark_uploaded(self, run_id: int) -> None:
        """Called only after the server confirmed the terminal status (2xx).

        The result and log now live on the server: they leave the journal at once, the
        row (with its state) stays so the run is still known as done.
        """
        self._transition(run_id, LocalState.UPLOADED, (LocalState.FINISHED,), result=None,
                         log=None)
        self._discard_file(run_id)

    def mark_dropped(self, run_id: int, note: str) -> None:
        """The server will never accept this outcome (e.g. the run was killed); keep why."""
        self._transition(run_id, LocalState.DROPPED, (LocalState.FINISHED,), note=note,
                         result=None, log=None)
        self._discard_file(run_id)

    def abandon(self, run_id: int, note: str) -> bool:
        """An in-flight run this node must not report on (taken elsewhere, already final)."""
        return self._transition(run_id, LocalState.DROPPED, IN_FLIGHT, note=note)

    def record_task_uid(self, task_uid: str, task_id: int, run_id: int) -> int | None:
        """Remember that run ``run_id`` of ``task_id`` uses ``task_uid``; the id of the
        task whose run used it first on this node when that was another run, or None.

        Why: the server gives every task its own uid and seals its inputs bound to it,
        and a node gets one run per task. Another run with a uid already seen here is a
        sealed input replayed in a re-created task (e.g. with another image); the node
        refuses to open it. Runs, not task ids, tell the tasks apart: an older server
        could hand a re-created task the id of the deleted one.
        """
        with self._lock, Session(self._engine) as s, s.begin():
            seen = s.get(TaskUid, task_uid)
            if seen is None:
                s.add(TaskUid(task_uid=task_uid, task_id=task_id, run_id=run_id,
                              first_seen=self._clock()))
                return None
            return None if seen.run_id == run_id else seen.task_id

    def record_attempt(self, run_id: int, note: str | None = None) -> None:
        with self._lock, Session(self._engine) as s, s.begin():
            row = self._row(s, run_id)
            row.attempts += 1
            row.note = note
            row.updated_at = self._clock()

    # -- housekeeping -------------------------------------------------------------------
    def prune(self, *, vacuum_pages: int = _VACUUM_PAGES) -> int:
        """Delete done rows older than the retention; return how many went.

        Safe because a done run is terminal on the server, which never offers it again
        (the executor only starts runs the server reports as pending). Deletes go in
        small transactions so runs are not held up, payloads left by older versions are
        cleared too, and at most ``vacuum_pages`` freed pages are returned to the disk
        per call (incremental vacuum; a full VACUUM would block the node).
        """
        done = [st.value for st in DONE]
        cutoff = self._clock() - self.retention
        with self._lock, Session(self._engine) as s, s.begin():
            s.execute(update(Row).where(
                Row.state.in_(done), or_(Row.result.is_not(None), Row.log.is_not(None)),
            ).values(result=None, log=None))
        removed = 0
        while True:
            with self._lock, Session(self._engine) as s, s.begin():
                ids = list(s.scalars(select(Row.run_id).where(
                    Row.state.in_(done), Row.updated_at < cutoff,
                ).limit(_PRUNE_BATCH)))
                if ids:
                    s.execute(delete(Row).where(Row.run_id.in_(ids)))
            removed += len(ids)
            if len(ids) < _PRUNE_BATCH:
                break
        if removed:
            log.info("journal: pruned %d done run(s) older than %s", removed, self.retention)
        if self.results is not None:  # files of runs that no longer wait for upload
            waiting = self.in_state(LocalState.FINISHED, *IN_FLIGHT)
            self.results.discard_except(entry.run_id for entry in waiting)
        self._release_space(vacuum_pages)
        return removed

    def free_pages(self) -> int:
        """Pages of the file that hold no data (what :meth:`prune` gives back)."""
        with self._lock, self._engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)

    def _release_space(self, pages: int) -> None:
        if str(self.path) == ":memory:" or pages <= 0 or self.free_pages() == 0:
            return
        with self._lock:
            raw = self._engine.raw_connection()
            try:
                # executescript steps the pragma to the end (execute frees only one page)
                raw.driver_connection.executescript(  # type: ignore[union-attr]
                    f"PRAGMA incremental_vacuum({int(pages)}); PRAGMA wal_checkpoint(TRUNCATE);")
            finally:
                raw.close()

    def _enable_incremental_vacuum(self) -> None:
        """New files get auto_vacuum=INCREMENTAL from the connect pragmas; a file made by
        an older version is converted once, here at start-up, before any run is handled."""
        with self._engine.connect() as conn:
            mode = int(conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() or 0)
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type='table'").scalar()
        if mode == 2 or not tables:
            return
        log.info("journal %s: enabling incremental vacuum (one-time VACUUM)", self.path)
        raw = self._engine.raw_connection()
        try:
            raw.driver_connection.executescript(  # type: ignore[union-attr]
                "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")
        finally:
            raw.close()

    # -- reads --------------------------------------------------------------------------
    def get(self, run_id: int) -> JournalEntry | None:
        with self._lock, Session(self._engine) as s:
            row = s.get(Row, run_id)
            return snapshot(row) if row is not None else None

    def in_state(self, *states: LocalState) -> list[JournalEntry]:
        with self._lock, Session(self._engine) as s:
            rows = s.scalars(
                select(Row).where(Row.state.in_([st.value for st in states]))
                .order_by(Row.run_id)
            )
            return [snapshot(r) for r in rows]

    def in_flight(self) -> list[JournalEntry]:
        return self.in_state(*IN_FLIGHT)

    def to_upload(self) -> list[JournalEntry]:
        return self.in_state(LocalState.FINISHED)

    def of_task(self, task_id: int) -> list[JournalEntry]:
        with self._lock, Session(self._engine) as s:
            rows = s.scalars(select(Row).where(Row.task_id == task_id).order_by(Row.run_id))
            return [snapshot(r) for r in rows]

    # -- helpers ------------------------------------------------------------------------
    def _discard_file(self, run_id: int) -> None:
        if self.results is not None:
            self.results.discard(run_id)

    def _row(self, s: Session, run_id: int) -> Row:
        row = s.get(Row, run_id)
        if row is None:
            raise KeyError(f"run {run_id} is not in the node's journal")
        return row

    def _transition(
        self, run_id: int, new: LocalState, allowed_from: tuple[LocalState, ...],
        **fields: object,
    ) -> bool:
        with self._lock, Session(self._engine) as s, s.begin():
            row = self._row(s, run_id)
            if LocalState(row.state) not in allowed_from:
                return False
            row.state = new.value
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = self._clock()
            return True
