"""Lists stay fast and query-bounded with 10,000 tasks (visibility filtered in SQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert

from tests.server.conftest import Api, World
from v6lib.server.db.models import Run, Task

N_TASKS = 10_000


@contextmanager
def count_queries(engine: Any) -> Iterator[list[str]]:
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:  # not the event hub's watcher thread
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _bulk_tasks(app: Any, world: World) -> None:
    now = datetime.now(UTC)
    with app.v6_state.session_factory() as session:
        session.execute(insert(Task), [
            {"id": 1000 + i, "uid": f"u{i}", "name": f"t{i}", "description": "",
             "image": "img", "collaboration_id": world.collab, "databases": [],
             "init_org_id": world.org_a if i % 2 else world.org_b, "job_id": 1000 + i,
             "status": "pending", "created_at": now}
            for i in range(N_TASKS)])
        session.execute(insert(Run), [
            {"task_id": 1000 + i, "organization_id": org, "status": "pending", "input": "e30=",
             "node_id": node}
            for i in range(N_TASKS)
            for org, node in ((world.org_a, world.node_a), (world.org_b, world.node_b))])
        session.commit()


@pytest.mark.slow
def test_lists_with_ten_thousand_tasks(app: Any, world: World, api: Api) -> None:
    _bulk_tasks(app, world)
    viewer = world.user("perf-viewer", world.org_a, ["Viewer"])
    node = world.node_token("a")
    engine = app.v6_state.engine
    for token, path in ((viewer, "/task"), (viewer, "/run"), (node, "/run"),
                        (None, "/task"), (viewer, "/result")):
        with count_queries(engine) as queries:
            started = time.perf_counter()
            body = api.ok("GET", path, token=token, params={"per_page": 100, "page": 50})
            elapsed = time.perf_counter() - started
        assert len(body["data"]) == 100 and body["total"] >= N_TASKS
        # auth (token + principal) + count + page: no query per row
        assert len(queries) <= 10, (path, len(queries))
        assert elapsed < 2.0, (path, elapsed)
