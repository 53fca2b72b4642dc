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

    # NOTE: five: the login throttle counts attempts in flight, and a sixth concurrent
    # login of one node key from one address waits (ThrottlePolicy.free_attempts); with
    # writers served in order that sixth attempt is no longer a matter of luck
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 5 * 8 * 3 + 3 * 8
    assert set(statuses) <= {200, 201}, sorted(set(statuses))
    assert api.ok("GET", "/task")["total"] == 3 * 8


def test_runs_finishing_at_once_leave_a_consistent_task_status(db_world: World) -> None:
    """Two runs of one task completing at the same moment: the task ends 'completed'.

    Without a lock on the task, PostgreSQL's READ COMMITTED let each completion read
    the other run's old status, and the last write left the task 'active'.
    """
    api = db_world.api
    tokens = {db_world.org_a: db_world.node_token("a"), db_world.org_b: db_world.node_token("b")}
    tasks = [db_world.task(orgs=[db_world.org_a, db_world.org_b]) for _ in range(30)]
    runs = []
    for task in tasks:
        for run in api.ok("GET", "/run", params={"task_id": task["id"]})["data"]:
            token = tokens[run["organization_id"]]
            for status in ("initializing", "active"):
                api.ok("PATCH", f"/run/{run['id']}", json={"status": status}, token=token)
            runs.append((run["id"], token))
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def finish(mine: list[tuple[int, str]]) -> None:
        for run_id, token in mine:
            barrier.wait(timeout=30)
            answers.append(api.patch(f"/run/{run_id}", json={"status": "completed"},
                                     token=token).status_code)

    threads = [threading.Thread(target=finish, args=(runs[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert answers == [200] * len(runs)
    statuses = [api.ok("GET", f"/task/{t['id']}")["status"] for t in tasks]
    assert statuses == ["completed"] * len(tasks)
