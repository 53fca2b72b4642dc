"""WaiterRegistry: an event wakes the futures under its keys only; none is missed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from v6lib.server.db.engine import make_session_factory
from v6lib.server.events import EventHub
from v6lib.server.events.parking import (
    EVERYTHING,
    collaboration_key,
    organization_key,
    record_keys,
    task_key,
)
from v6lib.server.events.records import EventRecord
from v6lib.server.events.waiters import WaiterRegistry


def _record(id: int, *, task: int = 1, org: int | None = 1, collab: int | None = 1) -> EventRecord:
    return EventRecord(id, "run_created", task, None, org, collab, None, datetime.now(UTC))


def _run(scenario: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` in a thread of its own: the session's browser tests keep an event
    loop running in the main thread (Playwright's sync API), where asyncio.run refuses."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario).result()


def test_record_keys_name_every_waiter_an_event_may_concern() -> None:
    assert set(record_keys(_record(1, task=7, org=3, collab=5))) == {
        EVERYTHING, task_key(7), organization_key(3), collaboration_key(5)}
    assert set(record_keys(_record(2, task=7, org=None, collab=None))) == {EVERYTHING, task_key(7)}


def test_an_event_wakes_only_the_futures_under_its_keys() -> None:
    async def scenario() -> None:
        registry = WaiterRegistry(asyncio.get_running_loop())
        mine = registry.park(frozenset({organization_key(1)}), [])
        other = registry.park(frozenset({organization_key(2)}), [])
        watcher = registry.park(frozenset({task_key(9)}), [])
        # told from another thread, as the hub's watcher does
        thread = threading.Thread(target=registry.on_events, args=([_record(5, org=1)],))
        thread.start()
        thread.join()
        await asyncio.sleep(0.05)
        assert mine.done() and not other.done() and not watcher.done()
        registry.unpark(frozenset({organization_key(1)}), mine)
        assert registry.waiting == 2
        registry.on_events(None)  # the hub stops: every waiter wakes, later ones at once
        await asyncio.sleep(0.05)
        assert other.done() and watcher.done() and registry.closed
        assert registry.park(frozenset({task_key(1)}), []).done()

    _run(scenario())


def test_an_event_that_came_before_parking_is_not_missed() -> None:
    async def scenario() -> None:
        registry = WaiterRegistry(asyncio.get_running_loop())
        assert registry.park(frozenset({task_key(4)}), [_record(3, task=4)]).done()
        assert not registry.park(frozenset({task_key(4)}), [_record(3, task=5)]).done()
        # events no longer held in memory: wake and read them from the table
        assert registry.park(frozenset({task_key(4)}), None).done()

    _run(scenario())


def test_the_hub_hands_each_committed_batch_to_its_listeners(any_engine: Engine) -> None:
    hub = EventHub(any_engine, poll_interval=0.01)
    batches: list[list[EventRecord] | None] = []
    got = threading.Event()

    def listener(records: list[EventRecord] | None) -> None:
        batches.append(records)
        got.set()

    hub.add_listener(listener)
    try:
        with make_session_factory(any_engine)() as session:
            hub.publish(session, "run_created", task_id=11, organization_id=2,
                        collaboration_id=3)
            session.commit()
        assert got.wait(10)
        assert [(r.task_id, r.organization_id) for r in batches[0] or []] == [(11, 2)]
        assert [r.task_id for r in hub.records_after(0) or []] == [11]
        assert hub.records_after(hub.latest) == []
    finally:
        hub.stop()
    assert batches[-1] is None  # stopping tells the listeners
