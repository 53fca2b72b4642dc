"""EventHub: publish events in the caller's transaction, wake long-polling waiters.

How a waiter learns of an event:

* in this process: the publishing session's ``after_commit`` hook wakes the watcher
  (or, for an in-memory SQLite database, reads the new rows at once);
* in other processes and server instances: one daemon thread per process watches the
  database: on PostgreSQL a LISTEN connection (``publish`` makes the transaction NOTIFY
  at commit), on SQLite a cheap ``id > latest`` query every ``poll_interval``.

The watcher keeps the recent events in memory, so a thousand waiting nodes cost one
query per new event, not one per node. Threads wait on a ``threading.Condition``;
listeners (``add_listener``: the event-loop front's waiter registry) are handed each
batch of new events instead, so they can wake only the waiters it concerns.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, event, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from v6lib.errors import ValidationError
from v6lib.schemas.event import EventOut, EventType
from v6lib.server.db.base import utcnow
from v6lib.server.db.models.event import Event, prune_events
from v6lib.server.events import watchers
from v6lib.server.events.ordering import Gap, accept_in_order
from v6lib.server.events.records import CHANNEL, COLUMNS, EventRecord, Match

__all__ = ["EventHub", "Listener"]

#: Told of every batch of new events (``None``: the hub stops); called on the thread
#: that learnt of them, so it must only hand them on (e.g. to an event loop).
Listener = Callable[[list[EventRecord] | None], None]

log = logging.getLogger(__name__)

#: PostgreSQL NOTIFY channel shared by every server instance on one database.
_COLUMNS = [getattr(Event, name) for name in COLUMNS]
_EVENT_TYPES = frozenset(item.value for item in EventType)


def _check_type(type: str) -> None:
    if type not in _EVENT_TYPES:
        raise ValidationError(f"unknown event type {type!r}; use one of {sorted(_EVENT_TYPES)}",
                              details={"field": "type"})


def _backend(engine: Engine) -> str:
    name = engine.dialect.name
    if name == "postgresql":
        return "postgresql"
    if name == "sqlite":
        database = engine.url.database or ""
        memory = database in ("", ":memory:") or "mode=memory" in str(engine.url)
        return "memory" if memory or isinstance(engine.pool, StaticPool) else "sqlite"
    return "poll"


class EventHub:
    """Per-process event hub over the ``event`` table.

    Args:
        engine: the server's engine (SQLite file, in-memory SQLite or PostgreSQL).
        clock: time source for ``created_at`` and pruning.
        poll_interval: seconds between database checks on SQLite (and while PostgreSQL
            has an unfilled id gap).
        retention_minutes: events older than this are pruned.
        prune_interval: seconds between prunes (per process).
        gap_timeout: how long to hold back events behind a missing id (a transaction
            that took its id but has not committed yet). Default 2 s on PostgreSQL,
            0 on SQLite, whose writers commit in id order.
        max_batch: most events returned by one ``wait``.
        buffer_size: recent events kept in memory.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = 0.02,
        retention_minutes: float = 60.0,
        prune_interval: float = 60.0,
        gap_timeout: float | None = None,
        max_batch: int = 500,
        buffer_size: int = 10_000,
    ) -> None:
        self.engine = engine
        self.backend = _backend(engine)
        self.clock = clock
        self.poll_interval = poll_interval
        self.retention = timedelta(minutes=retention_minutes)
        self.prune_interval = prune_interval
        self.gap_timeout = (
            gap_timeout if gap_timeout is not None else (2.0 if self.backend == "postgresql" else 0)
        )
        self.max_batch = max_batch
        self.buffer_size = max(buffer_size, max_batch)
        self._start_lock = threading.Lock()
        self._reset_state()

    def _reset_state(self) -> None:
        # NOTE: also called in a forked child (gunicorn worker): threads and locks of
        # the parent are not usable there.
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._fetch_lock = threading.Lock()
        self._ids: list[int] = []
        self._records: list[EventRecord] = []
        self._floor = 0  # every event with floor < id <= latest is in _records
        self._latest = 0
        self._generation = 0
        self._waiting = 0  # threads of this process inside wait()
        self._listeners: list[Listener] = []
        self._gap: Gap | None = None
        self._started = False
        self._closed = False  # set by stop(): waits answer at once until start() again
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._last_prune = time.monotonic()
        self._start_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Read the current position and start the watcher thread (idempotent)."""
        if self._pid != os.getpid():
            self._reset_state()
        self._closed = False
        with self._start_lock:
            if self._started:
                return
            self._stop.clear()
            with self._fetch_lock:
                latest = self.latest_id()
                with self._cond:
                    self._floor = self._latest = latest
                    self._ids.clear()
                    self._records.clear()
            if self.backend != "memory":
                target = (
                    watchers.listen_postgres
                    if self.backend == "postgresql"
                    else watchers.poll_database
                )
                self._thread = threading.Thread(
                    target=target,
                    args=(self, self._stop, self._poke),
                    name="v6-event-watcher",
                    daemon=True,
                )
                self._thread.start()
            self._started = True

    def stop(self, timeout: float = 5.0) -> None:
        """Wake every waiter, then stop the watcher thread (idempotent).

        Woken waiters (and any ``wait`` called later, until ``start``) answer at once
        with no events, so a stopping server's long-polls end within milliseconds.
        """
        if self._pid == os.getpid():
            self._closed = True
            with self._cond:
                self._generation += 1
                self._cond.notify_all()
            self._tell(None)
        with self._start_lock:
            if not self._started or self._pid != os.getpid():
                return
            self._stop.set()
            self._poke.set()
            if self._thread is not None:
                self._thread.join(timeout)
            self._thread = None
            self._started = False
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        return self._started and self._pid == os.getpid()

    @property
    def closed(self) -> bool:
        """True once ``stop`` was called in this process (and ``start`` not since)."""
        return self._closed and self._pid == os.getpid()

    # -- publishing ----------------------------------------------------------------------

    def publish(
        self,
        session: Session,
        type: str,
        *,
        task_id: int,
        run_id: int | None = None,
        organization_id: int | None = None,
        collaboration_id: int | None = None,
        status: str | None = None,
    ) -> None:
        """Add an event to ``session``'s transaction; waiters wake after it commits.

        Raises:
            ValidationError: unknown event type.
        """
        _check_type(type)
        row = Event(
            type=str(type),
            task_id=task_id,
            run_id=run_id,
            organization_id=organization_id,
            collaboration_id=collaboration_id,
            status=None if status is None else str(status),
            created_at=self.clock(),
        )
        session.add(row)
        state = self._arm(session)
        if self.backend == "memory":
            state["rows"].append(row)

    def publish_all(self, session: Session, type: str, events: list[dict[str, Any]]) -> None:
        """``publish`` for many events of one type (each a dict of ``publish``'s fields).

        Written at once as one multi-row INSERT, not one statement per event (a task
        fans out to every organization); an in-memory database, whose hub needs each
        row's id at flush, takes them one by one.
        """
        _check_type(type)
        if self.backend == "memory":
            for fields in events:
                self.publish(session, type, **fields)
            return
        if events:
            now = self.clock()
            # NOTE: through the connection, so as a plain INSERT (not the ORM's bulk insert)
            session.connection().execute(insert(Event), [
                {**fields, "type": type, "created_at": now} for fields in events])
            self._arm(session)

    def _arm(self, session: Session) -> dict[str, Any]:
        key = ("v6_event_hub", id(self))
        if key not in session.info:
            session.info[key] = {"pending": False, "rows": [], "flushed": []}
            event.listen(session, "before_commit", self._before_commit)
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", self._after_rollback)
            if self.backend == "memory":
                event.listen(session, "after_flush", self._after_flush)
        state: dict[str, Any] = session.info[key]
        state["pending"] = True
        return state

    def _state(self, session: Session) -> dict[str, Any]:
        state: dict[str, Any] = session.info.get(("v6_event_hub", id(self)), {})
        return state

    def _before_commit(self, session: Session) -> None:
        if self.backend == "postgresql" and self._state(session).get("pending"):
            # NOTIFY is transactional: delivered at commit, dropped on rollback.
            session.execute(text(f"NOTIFY {CHANNEL}"))

    def _after_flush(self, session: Session, _context: object) -> None:
        # NOTE: in-memory SQLite has one connection shared by every session; reading the
        # table from here could collide with an open transaction, so the rows this
        # session wrote are remembered (ids are known after the flush) instead.
        state = self._state(session)
        written = [row for row in state.get("rows", ()) if row.id is not None]
        state["rows"] = [row for row in state.get("rows", ()) if row.id is None]
        state.setdefault("flushed", []).extend(
            EventRecord(*(getattr(row, name) for name in COLUMNS)) for row in written
        )

    def _after_commit(self, session: Session) -> None:
        state = self._state(session)
        if not state.get("pending"):
            return
        state["pending"] = False
        flushed, state["flushed"] = state.get("flushed", []), []
        if not self.running:
            return
        if self.backend == "memory":
            with self._fetch_lock:
                fresh = sorted(
                    (record for record in flushed if record.id > self._latest),
                    key=lambda record: record.id,
                )
                self._append(fresh)
        elif self._waiting or self._listeners:
            self._poke.set()  # else the next regular poll is soon enough

    def _after_rollback(self, session: Session) -> None:
        state = self._state(session)
        state["pending"] = False
        state["rows"], state["flushed"] = [], []

    # -- reading the table (watcher side) ----------------------------------------------

    def latest_id(self) -> int:
        """The highest event id in the database now (0 when there is none)."""
        if self.backend == "memory" and self.running:
            return self._latest  # this process saw every commit; no shared-connection read
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(Event.id))).scalar() or 0)

    @property
    def has_gap(self) -> bool:
        return self._gap is not None

    def refresh(self, conn: Connection | None = None) -> int:
        """Load events newer than the last one seen and wake waiters; returns how many.

        Called by the watcher thread (with its own connection) or, on in-memory SQLite,
        right after a commit.
        """
        if conn is None:
            if self.backend == "memory" and self.running:
                return 0  # commits are appended synchronously by _after_commit
            with self.engine.connect() as own:
                return self.refresh(own)
        total = 0
        with self._fetch_lock:
            while True:
                rows = conn.execute(
                    select(*_COLUMNS)
                    .where(Event.id > self._latest)
                    .order_by(Event.id)
                    .limit(self.buffer_size)
                ).all()
                accepted, self._gap = accept_in_order(
                    [EventRecord.from_row(row) for row in rows],
                    self._latest,
                    self._gap,
                    gap_timeout=self.gap_timeout,
                    now=time.monotonic(),
                )
                self._append(accepted)
                total += len(accepted)
                if len(rows) < self.buffer_size or len(accepted) < len(rows):
                    return total

    def _append(self, accepted: list[EventRecord]) -> None:
        if accepted:
            with self._cond:
                self._ids.extend(record.id for record in accepted)
                self._records.extend(accepted)
                self._latest = accepted[-1].id
                if len(self._records) > self.buffer_size:
                    drop = len(self._records) - self.buffer_size // 2
                    self._floor = self._ids[drop - 1]
                    del self._ids[:drop], self._records[:drop]
                self._generation += 1
                self._cond.notify_all()
            self._tell(accepted)

    # -- listeners -----------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Hand every later batch of new events (and ``None`` at ``stop``) to ``listener``."""
        self.start()
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _tell(self, records: list[EventRecord] | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(records)
            except Exception:  # one broken listener must not stop the watcher
                log.warning("event listener failed", exc_info=True)

    @property
    def latest(self) -> int:
        """The newest event id this process has seen (no database read)."""
        return self._latest

    def records_after(self, cursor: int) -> list[EventRecord] | None:
        """Events newer than ``cursor`` held in memory; None if some are no longer held."""
        with self._cond:
            if cursor < self._floor:
                return None
            return self._records[bisect.bisect_right(self._ids, cursor):]

    def maybe_prune(self) -> int:
        """Prune old events when ``prune_interval`` has passed; returns rows deleted."""
        if time.monotonic() - self._last_prune < self.prune_interval:
            return 0
        self._last_prune = time.monotonic()
        try:
            with self.engine.begin() as conn:
                return prune_events(conn, older_than=self.clock() - self.retention)
        except Exception:  # a busy database must not kill the watcher
            log.warning("pruning old events failed; will retry", exc_info=True)
            return 0

    # -- waiting -------------------------------------------------------------------------

    def wait(self, match: Match, since: int | None, timeout: float, *,
             fresh: bool = True) -> tuple[list[EventOut], int]:
        """Events newer than ``since`` that ``match``, and the cursor to pass next time.

        Answers at once when such events exist; otherwise blocks up to ``timeout``
        seconds. ``since=None`` means "from now". The cursor also moves past events
        that did not match, so they are not scanned again.

        ``fresh=False`` answers from the events held in memory, without first reading
        the table: for a poll the event-loop front parks when nothing is found, the
        watcher's next read (within ``poll_interval``, or at once after a local commit)
        wakes it for anything committed meanwhile, so the read would only cost a query
        per poll, serialised with every other poll and the watcher.
        """
        if since is not None and since < 0:
            raise ValidationError("since must be 0 or more", details={"field": "since"})
        if self.closed:  # shutting down: never hold a request
            return [], since if since is not None else self._latest
        self.start()
        if fresh:
            # NOTE: one cheap indexed read so everything committed before this call
            # counts, even if the watcher has not polled yet (a timeout=0 poll must
            # see it).
            self.refresh()
        if since is None:
            since = self._latest
        elif since > self._latest:
            since = min(since, self.latest_id())  # a cursor from a reset database
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            self._waiting += 1
        try:
            return self._wait(match, since, deadline)
        finally:
            with self._cond:
                self._waiting -= 1

    def _wait(self, match: Match, cursor: int, deadline: float) -> tuple[list[EventOut], int]:
        while True:
            with self._cond:
                generation = self._generation
                latest = self._latest
                below = cursor < self._floor
                records = [] if below else self._records[bisect.bisect_right(self._ids, cursor) :]
            if below:
                records = self._read_range(cursor, latest)
            found, cursor = self._select(records, match, cursor)
            if found:
                return [record.to_out() for record in found], cursor
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.running or self._closed:
                return [], cursor
            with self._cond:
                if self._generation == generation and not self._closed:
                    self._cond.wait(remaining)

    def _select(
        self, records: list[EventRecord], match: Match, cursor: int
    ) -> tuple[list[EventRecord], int]:
        found: list[EventRecord] = []
        for record in records:
            cursor = record.id
            if match(record):
                found.append(record)
                if len(found) >= self.max_batch:
                    break
        return found, cursor

    def _read_range(self, after: int, upto: int) -> list[EventRecord]:
        """Events in (after, upto] straight from the table, for cursors older than memory."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_COLUMNS)
                .where(Event.id > after, Event.id <= upto)
                .order_by(Event.id)
                .limit(self.buffer_size)
            ).all()
        return [EventRecord.from_row(row) for row in rows]
