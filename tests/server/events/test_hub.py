"""EventHub: publish in a transaction, wake waiters in this and other processes."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from v6lib.errors import ValidationError
from v6lib.schemas.event import EventOut
from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.db.models.event import Event
from v6lib.server.events import EventHub, EventRecord

PUBLISHER = Path(__file__).with_name("publisher_process.py")


def everything(_: EventRecord) -> bool:
    return True


def publish(hub, sessions, count=1, **fields):
    fields = {"task_id": 1, **fields}
    with sessions() as session:
        for _ in range(count):
            hub.publish(session, "run_created", **fields)
        session.commit()


@pytest.fixture
def hub(any_engine):
    hub = EventHub(any_engine, poll_interval=0.02)
    yield hub
    hub.stop()


def test_returns_at_once_when_events_exist(hub, sessions):
    publish(hub, sessions, task_id=4, run_id=9, organization_id=2, status="pending")
    started = time.monotonic()
    events, cursor = hub.wait(everything, since=0, timeout=5)
    assert time.monotonic() - started < 1
    assert len(events) == 1
    assert isinstance(events[0], EventOut)
    assert events[0].model_dump() == {
        "id": cursor,
        "type": "run_created",
        "task_id": 4,
        "run_id": 9,
        "organization_id": 2,
        "status": "pending",
    }


def test_zero_timeout_sees_what_was_just_committed(hub, sessions):
    hub.start()
    cursor = 0
    for task_id in range(1, 21):
        publish(hub, sessions, task_id=task_id)
        events, cursor = hub.wait(everything, since=cursor, timeout=0)
        assert [e.task_id for e in events] == [task_id]


def test_a_memory_read_skips_the_table_and_listeners_hear_what_it_missed(
        hub, any_engine, sessions):
    """``fresh=False`` (a poll the front parks when nothing is found) reads no table; an
    event another process committed just before reaches the hub's listeners anyway."""
    from sqlalchemy import event

    heard: list[int] = []
    hub.add_listener(lambda records: heard.extend(r.id for r in records or ()))
    cursor = hub.latest
    other = EventHub(any_engine)  # another worker: its commit does not poke this hub
    publish(other, sessions, task_id=7)
    statements: list[str] = []

    def count(conn, cursor, statement, *_):
        statements.append(statement)

    event.listen(any_engine, "before_cursor_execute", count)
    try:
        events, _ = hub.wait(everything, since=cursor, timeout=0, fresh=False)
        read_nothing = list(statements)
        hub.wait(everything, since=cursor, timeout=0)
    finally:
        event.remove(any_engine, "before_cursor_execute", count)
    assert read_nothing == [] and len(statements) > 0
    assert [e.task_id for e in events] in ([], [7])
    deadline = time.monotonic() + 5
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(heard) == 1 and heard[0] > cursor


def test_timeout_returns_nothing(hub):
    started = time.monotonic()
    events, cursor = hub.wait(everything, since=None, timeout=0.3)
    elapsed = time.monotonic() - started
    assert events == []
    assert cursor == 0
    assert 0.25 <= elapsed < 2


def test_since_none_means_from_now(hub, sessions):
    publish(hub, sessions, count=3)
    events, cursor = hub.wait(everything, since=None, timeout=0.1)
    assert events == []
    assert cursor == 3
    publish(hub, sessions, task_id=8)
    events, cursor = hub.wait(everything, since=cursor, timeout=5)
    assert [e.task_id for e in events] == [8]
    assert cursor == 4


def test_since_excludes_delivered_events(hub, sessions):
    publish(hub, sessions, count=3)
    events, cursor = hub.wait(everything, since=1, timeout=1)
    assert [e.id for e in events] == [2, 3]
    assert cursor == 3


def test_match_filters_and_cursor_moves_past_non_matching(hub, sessions):
    publish(hub, sessions, organization_id=1, collaboration_id=5)
    publish(hub, sessions, organization_id=2, collaboration_id=5)
    publish(hub, sessions, organization_id=1, collaboration_id=6)

    def org2(record: EventRecord) -> bool:
        return record.organization_id == 2 and record.collaboration_id == 5

    events, cursor = hub.wait(org2, since=0, timeout=1)
    assert [e.organization_id for e in events] == [2]
    assert cursor == 3  # everything scanned, matching or not
    publish(hub, sessions, organization_id=1, collaboration_id=5)
    events, cursor = hub.wait(org2, since=cursor, timeout=0.3)
    assert events == []
    assert cursor == 4  # the org-1 event was scanned and skipped


def test_in_process_wake_up_is_fast(hub, sessions):
    hub.start()
    delays = []
    for task_id in range(1, 11):
        since = hub.latest_id()
        got: dict = {}

        def waiter(since=since, got=got):
            got["events"], _ = hub.wait(everything, since=since, timeout=5)
            got["at"] = time.perf_counter()

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.03)
        publish(hub, sessions, task_id=task_id)
        committed = time.perf_counter()
        thread.join(5)
        assert [e.task_id for e in got["events"]] == [task_id]
        delays.append(got["at"] - committed)
    assert statistics.median(delays) < 0.05, delays


def test_many_waiters_wake_on_one_event(hub, sessions):
    hub.start()
    results: list[list[EventOut]] = []
    lock = threading.Lock()

    def waiter():
        events, _ = hub.wait(everything, since=0, timeout=5)
        with lock:
            results.append(events)

    threads = [threading.Thread(target=waiter) for _ in range(30)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    publish(hub, sessions, task_id=77)
    for thread in threads:
        thread.join(5)
    assert len(results) == 30
    assert all([e.task_id for e in events] == [77] for events in results)


def test_rolled_back_event_is_never_delivered(hub, sessions):
    with sessions() as session:
        hub.publish(session, "run_created", task_id=1)
        session.rollback()
    events, _ = hub.wait(everything, since=0, timeout=0.3)
    assert events == []
    publish(hub, sessions, task_id=2)
    events, _ = hub.wait(everything, since=0, timeout=2)
    assert [e.task_id for e in events] == [2]


def test_unknown_type_is_refused(hub, sessions):
    with sessions() as session, pytest.raises(ValidationError, match="unknown event type"):
        hub.publish(session, "run_exploded", task_id=1)


def test_negative_since_is_refused(hub):
    with pytest.raises(ValidationError, match="since"):
        hub.wait(everything, since=-1, timeout=0)


def test_events_older_than_memory_come_from_the_table(any_engine, sessions):
    small = EventHub(any_engine, max_batch=2, buffer_size=2)
    publish(small, sessions, count=5)
    small.start()
    try:
        events, cursor = small.wait(everything, since=0, timeout=1)
        assert [e.id for e in events] == [1, 2]  # max_batch caps one answer
        events, cursor = small.wait(everything, since=cursor, timeout=1)
        assert [e.id for e in events] == [3, 4]
        publish(small, sessions, count=3)  # overflows the in-memory buffer
        deadline = time.monotonic() + 5
        while small._floor != 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        with small._cond:
            assert (small._floor, small._ids) == (7, [8])  # only id 8 is still in memory
        events, cursor = small.wait(everything, since=cursor, timeout=2)
        assert [e.id for e in events] == [5, 6]
        events, cursor = small.wait(everything, since=cursor, timeout=2)
        assert [e.id for e in events] == [7, 8]
    finally:
        small.stop()


def test_cursor_from_a_reset_database_is_clamped(hub, sessions):
    publish(hub, sessions, count=2)
    events, cursor = hub.wait(everything, since=500, timeout=0.05)
    assert (events, cursor) == ([], 2)
    publish(hub, sessions, task_id=3)
    events, _ = hub.wait(everything, since=cursor, timeout=2)
    assert [e.task_id for e in events] == [3]


def test_start_and_stop_are_idempotent(hub):
    hub.start()
    hub.start()
    thread = hub._thread
    assert thread is not None and thread.daemon and thread.is_alive()
    hub.stop()
    hub.stop()
    assert not thread.is_alive()
    assert not hub.running


def test_stop_releases_waiters(hub):
    hub.start()
    done = threading.Event()

    def waiter():
        hub.wait(everything, since=None, timeout=30)
        done.set()

    threading.Thread(target=waiter, daemon=True).start()
    time.sleep(0.1)
    hub.stop()
    assert done.wait(2)


def test_prune_keeps_recent_and_newest(any_engine, sessions):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    clock_value = [now - timedelta(minutes=90)]
    hub = EventHub(any_engine, clock=lambda: clock_value[0], retention_minutes=60, prune_interval=0)
    publish(hub, sessions, count=2)
    clock_value[0] = now - timedelta(minutes=10)
    publish(hub, sessions, count=1)
    clock_value[0] = now
    assert hub.maybe_prune() == 2
    with sessions() as session:
        assert session.scalars(select(Event.id)).all() == [3]
    # even when everything is old, the newest row stays so ids never restart
    clock_value[0] = now + timedelta(hours=5)
    assert hub.maybe_prune() == 0
    publish(hub, sessions, count=1)
    with sessions() as session:
        assert session.scalar(select(func.max(Event.id))) == 4


def test_in_memory_sqlite_wakes_without_a_thread():
    engine = make_engine("sqlite://")
    Event.__table__.create(engine)
    sessions = make_session_factory(engine)
    hub = EventHub(engine)
    hub.start()
    assert hub._thread is None
    publish(hub, sessions, task_id=5)
    events, cursor = hub.wait(everything, since=0, timeout=1)
    assert [e.task_id for e in events] == [5]
    assert cursor == 1
    hub.stop()
    engine.dispose()


def test_in_memory_sqlite_never_reads_through_an_open_transaction():
    """One shared connection: waiting inside a request's transaction must not BEGIN again."""
    engine = make_engine("sqlite://")
    Event.__table__.create(engine)
    sessions = make_session_factory(engine)
    hub = EventHub(engine)
    hub.start()
    try:
        with sessions() as request:
            request.execute(select(func.count(Event.id)))  # the request's transaction is open
            assert hub.latest_id() == 0
            assert hub.wait(everything, since=None, timeout=0) == ([], 0)
            hub.publish(request, "run_created", task_id=1)
            hub.publish(request, "run_updated", task_id=1, status="active")
            request.flush()
            hub.publish(request, "task_killed", task_id=1)
            request.commit()
        events, cursor = hub.wait(everything, since=0, timeout=0)
        assert [e.type for e in events] == ["run_created", "run_updated", "task_killed"]
        assert cursor == hub.latest_id() == 3
        with sessions() as aborted:
            hub.publish(aborted, "run_created", task_id=2)
            aborted.flush()
            aborted.rollback()
        assert hub.wait(everything, since=3, timeout=0) == ([], 3)
    finally:
        hub.stop()
        engine.dispose()


def _cross_process_delays(hub, url: str, count: int = 12) -> list[float]:
    hub.start()
    child = subprocess.Popen(
        [sys.executable, str(PUBLISHER), url, str(count), "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        seen: dict[int, float] = {}
        cursor = hub.latest_id()
        deadline = time.monotonic() + 30
        while len(seen) < count and time.monotonic() < deadline:
            events, cursor = hub.wait(everything, since=cursor, timeout=5)
            now = time.time()
            for event in events:
                seen[event.task_id] = now
        out, _ = child.communicate(timeout=30)
    finally:
        child.kill()
    committed = {int(a): float(b) for a, b in (line.split() for line in out.splitlines())}
    assert sorted(seen) == list(range(1, count + 1))
    return [seen[task] - committed[task] for task in committed]


def test_cross_process_wake_up_sqlite(sqlite_url, sqlite_engine):
    hub = EventHub(sqlite_engine, poll_interval=0.02)
    try:
        delays = _cross_process_delays(hub, sqlite_url)
    finally:
        hub.stop()
    assert statistics.median(delays) < 0.05, delays


@pytest.mark.postgres
def test_cross_process_wake_up_postgres(postgres_url, postgres_engine):
    hub = EventHub(postgres_engine)
    try:
        delays = _cross_process_delays(hub, postgres_url)
    finally:
        hub.stop()
    assert statistics.median(delays) < 0.05, delays


@pytest.mark.postgres
def test_postgres_delivers_in_id_order_when_commits_race(postgres_engine):
    """Id 1 taken first but committed last: id 2 is held back until 1 is visible."""
    sessions = make_session_factory(postgres_engine)
    hub = EventHub(postgres_engine, gap_timeout=5)
    hub.start()
    try:
        slow = sessions()
        hub.publish(slow, "run_created", task_id=1)
        slow.flush()  # takes id 1, not committed
        publish(hub, sessions, task_id=2)  # id 2, committed
        events, cursor = hub.wait(everything, since=0, timeout=0.4)
        assert (events, cursor) == ([], 0)
        slow.commit()
        slow.close()
        events, cursor = hub.wait(everything, since=0, timeout=3)
        assert [e.task_id for e in events] == [1, 2]
        assert cursor == 2
    finally:
        hub.stop()


@pytest.mark.postgres
def test_postgres_skips_a_gap_that_never_fills(postgres_engine):
    sessions = make_session_factory(postgres_engine)
    hub = EventHub(postgres_engine, gap_timeout=0.3)
    hub.start()
    try:
        with sessions() as aborted:
            hub.publish(aborted, "run_created", task_id=1)
            aborted.flush()
            aborted.rollback()
        publish(hub, sessions, task_id=2)
        started = time.monotonic()
        events, cursor = hub.wait(everything, since=0, timeout=3)
        assert [e.task_id for e in events] == [2]
        assert cursor == 2
        assert time.monotonic() - started >= 0.2
    finally:
        hub.stop()


def test_a_forked_worker_gets_its_own_watcher(hub, sessions):
    """gunicorn forks after the app (and maybe the hub) started in the master."""
    hub.start()
    parent_thread, parent_stop = hub._thread, hub._stop
    hub._pid = -1  # what a forked child sees: the state belongs to another process
    assert not hub.running
    publish(hub, sessions, task_id=6)
    events, cursor = hub.wait(everything, since=0, timeout=2)  # restarts in "this" process
    assert hub.running
    assert hub._thread is not parent_thread and hub._thread.is_alive()
    assert [e.task_id for e in events] == [6]
    assert cursor == 1
    parent_stop.set()  # in a real fork the parent's thread does not exist in the child
    parent_thread.join(2)
