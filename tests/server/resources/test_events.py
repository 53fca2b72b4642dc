"""Long polls: ``GET /event`` and ``GET /task/{id}/wait`` answer as soon as things happen."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.server.conftest import ROOT_PASSWORD, Api, World, build_app, root_org


def _later(delay: float, action: Any) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_node_event_long_poll_wakes_on_new_task(db_world: World) -> None:
    world = db_world
    api = world.api
    node = world.node_token("a")
    cursor = api.ok("GET", "/event", token=node)["cursor"]
    thread = _later(0.3, lambda: world.task())
    started = time.monotonic()
    body = api.ok("GET", "/event", token=node, params={"since": cursor, "timeout": 10})
    elapsed = time.monotonic() - started
    thread.join()
    assert elapsed < 5
    assert [e["type"] for e in body["events"]] == ["run_created"]
    assert body["events"][0]["organization_id"] == world.org_a
    assert body["cursor"] >= body["events"][0]["id"]


def test_event_poll_times_out_empty(world: World) -> None:
    node = world.node_token("a")
    started = time.monotonic()
    body = world.api.ok("GET", "/event", token=node, params={"timeout": 0.3})
    assert body["events"] == [] and time.monotonic() - started >= 0.25


def test_events_are_filtered_per_caller(world: World, api: Api) -> None:
    other = api.ok("POST", "/collaboration", 201, json={"name": "o", "organization_ids":
                                                        [world.org_c, root_org(api)]})
    api.ok("POST", "/node", 201, json={"collaboration_id": other["id"],
                                       "organization_id": world.org_c})
    api.ok("POST", "/task", 201, json={"collaboration_id": other["id"], "image": "i",
                                       "organizations": [{"id": world.org_c,
                                                          "input": "e30="}]})
    world.task(orgs=[world.org_b])
    node_a = world.node_token("a")
    assert api.ok("GET", "/event", token=node_a, params={"since": 0})["events"] == []
    node_b = world.node_token("b")
    assert len(api.ok("GET", "/event", token=node_b, params={"since": 0})["events"]) == 1
    viewer_a = world.user("viewer-a", world.org_a, ["Viewer"])
    assert api.ok("GET", "/event", token=viewer_a, params={"since": 0})["events"] == []
    viewer_b = world.user("viewer-b", world.org_b, ["Viewer"])
    seen = api.ok("GET", "/event", token=viewer_b, params={"since": 0})["events"]
    assert len(seen) == 1 and seen[0]["organization_id"] == world.org_b
    assert len(api.ok("GET", "/event", params={"since": 0})["events"]) == 2


def test_task_wait_returns_when_last_run_finishes(db_world: World) -> None:
    world = db_world
    api = world.api
    task = world.task(orgs=[world.org_a])
    node = world.node_token("a")
    run = api.ok("GET", "/run", params={"task_id": task["id"]})["data"][0]

    def finish() -> None:
        for status in ("initializing", "active"):
            api.ok("PATCH", f"/run/{run['id']}", json={"status": status}, token=node)
        api.ok("PATCH", f"/run/{run['id']}", json={"status": "completed", "result": "e30="},
               token=node)

    thread = _later(0.3, finish)
    started = time.monotonic()
    body = api.ok("GET", f"/task/{task['id']}/wait", params={"timeout": 20})
    elapsed = time.monotonic() - started
    thread.join()
    assert body["status"] == "completed" and elapsed < 10


def test_task_wait_times_out_with_current_state(world: World) -> None:
    task = world.task()
    body = world.api.ok("GET", f"/task/{task['id']}/wait", params={"timeout": 0.2})
    assert body["status"] == "pending"
    assert world.api.get(f"/task/{task['id']}/wait", params={"timeout": 61}).status_code == 400


def _rule_ids(api: Api, *keys: tuple[str, str, str]) -> list[int]:
    ids = []
    for name, scope, operation in keys:
        found = api.ok("GET", "/rule", params={"name": name, "scope": scope,
                                               "operation": operation})["data"]
        ids.append(found[0]["id"])
    return ids


def test_event_receive_rules_are_applied(world: World) -> None:
    api = world.api
    assert api.ok("GET", "/rule", params={"name": "event", "operation": "receive"})[
        "total"] == 3
    assert api.get("/rule", params={"name": "event", "operation": "send"}).json.get(
        "total", 0) == 0  # events are made by the server: no "send" rule exists
    world.task(orgs=[world.org_a])
    world.task(orgs=[world.org_b])
    task_view = ("task", "collaboration", "view")

    def user_with(name: str, *extra: tuple[str, str, str]) -> str:
        role = api.ok("POST", "/role", 201, json={
            "name": name, "organization_id": world.org_a,
            "rule_ids": _rule_ids(api, task_view, *extra)})
        api.ok("POST", "/user", 201, json={"username": name, "password": "Secret-pass-99!",
                                           "organization_id": world.org_a,
                                           "role_ids": [role["id"]]})
        return api.login(name)

    def orgs_seen(token: str) -> list[int]:
        events = api.ok("GET", "/event", token=token, params={"since": 0})["events"]
        return sorted(e["organization_id"] for e in events)

    assert orgs_seen(user_with("no-receive")) == []
    assert orgs_seen(user_with("org-receive", ("event", "organization", "receive"))) == [
        world.org_a]
    assert orgs_seen(user_with("col-receive", ("event", "collaboration", "receive"))) == [
        world.org_a, world.org_b]


def test_a_caller_holds_few_long_polls_at_once(world: World) -> None:
    api = world.api
    viewer = world.user("v", world.org_a, ["Viewer"])
    me = api.ok("GET", "/user", token=viewer, params={"username": "v"})["data"][0]["id"]
    task = world.task()
    long_polls = api.app.v6_state.long_polls
    with long_polls.hold(f"user:{me}"), long_polls.hold(f"user:{me}"):
        for path in ("/event", f"/task/{task['id']}/wait"):
            refused = api.get(path, token=viewer, params={"timeout": 5})
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
            assert refused.json["code"] == "rate_limited"
            assert "at most 2 per caller" in refused.json["message"]
            # a poll that does not wait holds no thread and is always answered
            assert api.get(path, token=viewer, params={"timeout": 0}).status_code == 200
        # other callers are not affected
        assert api.ok("GET", "/event", params={"timeout": 0.01})["events"] == []
    assert api.get("/event", token=viewer, params={"timeout": 0.01}).status_code == 200


def test_a_worker_without_threads_to_spare_answers_long_polls_at_once(
        sqlite_url: str) -> None:
    app = build_app(sqlite_url, config={"threads": 1})
    try:
        anonymous = Api(app)
        root = anonymous.as_(anonymous.login("root", ROOT_PASSWORD))
        started = time.monotonic()
        busy = root.get("/event", params={"timeout": 5})
        assert time.monotonic() - started < 2.0
        assert busy.status_code == 200 and busy.headers["Retry-After"] == "1"
        assert busy.json["events"] == [] and isinstance(busy.json["cursor"], int)
        held = root.get("/event", params={"timeout": 0})
        assert held.status_code == 200 and "Retry-After" not in held.headers
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()
