"""Concurrent readers and writers on one SQLite file never see "database is locked"."""

from __future__ import annotations

import threading

from tests.server.conftest import World


def test_parallel_logins_polls_and_task_creation(world: World) -> None:
    api = world.api
    node = world.node_token("a")
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        for _ in range(8):
            calls = [
                api.post("/token/node", json={"api_key": world.key_b}, token=""),
                api.get("/event", token=node, params={"since": 0}),
                api.get("/task", params={"per_page": 5}),
            ]
            if index % 2 == 0:
                calls.append(api.post("/task", json={
                    "collaboration_id": world.collab, "image": "i",
                    "organizations": [{"id": world.org_a, "input": "e30="}]}))
            with lock:
                statuses.extend(c.status_code for c in calls)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 6 * 8 * 3 + 3 * 8
    assert set(statuses) <= {200, 201}, sorted(set(statuses))
    assert api.ok("GET", "/task")["total"] == 3 * 8
