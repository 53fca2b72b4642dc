"""Node sightings: written at once by a lone request, grouped under a burst."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.server.conftest import World
from v6lib.server.db.base import utcnow
from v6lib.server.db.models import Node
from v6lib.server.services import node_liveness


def _seen(app: Any, node_id: int) -> Any:
    with app.v6_state.engine.connect() as conn:
        return conn.execute(select(Node.last_seen_at, Node.status)
                            .where(Node.id == node_id)).one()


def test_a_lone_sighting_is_written_before_the_call_returns(world: World) -> None:
    app = world.api.app
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    node_liveness.record_sighting(app.v6_state.engine, world.node_a, now)
    seen_at, status = _seen(app, world.node_a)
    assert status == "online" and seen_at.replace(tzinfo=None) == now.replace(tzinfo=None)


def test_sightings_that_arrive_during_a_write_go_in_the_writer_s_next_transaction(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = world.api.app
    engine = app.v6_state.engine
    writer = node_liveness._writer(engine)
    real_write = writer._write
    writing, go_on = threading.Event(), threading.Event()
    batches: list[dict[int, Any]] = []

    def slow_write(batch: dict[int, Any]) -> None:
        batches.append(dict(batch))
        if len(batches) == 1:
            writing.set()
            assert go_on.wait(10)
        real_write(batch)

    monkeypatch.setattr(writer, "_write", slow_write)
    now = utcnow()
    first = threading.Thread(target=node_liveness.record_sighting,
                             args=(engine, world.node_a, now))
    first.start()
    assert writing.wait(10)
    # while the first write is in progress, others return at once, leaving theirs to it
    node_liveness.record_sighting(engine, world.node_b, now)
    node_liveness.record_sighting(engine, world.node_a, now + timedelta(seconds=1))
    assert _seen(app, world.node_b).status != "online"
    go_on.set()
    first.join(10)
    assert not first.is_alive()
    assert batches == [{world.node_a: now},
                       {world.node_b: now, world.node_a: now + timedelta(seconds=1)}]
    assert _seen(app, world.node_a).status == _seen(app, world.node_b).status == "online"
    # the writer is free again: the next lone sighting is written at once
    node_liveness.record_sighting(engine, world.node_b, now + timedelta(seconds=2))
    assert len(batches) == 3 and not writer._writing
