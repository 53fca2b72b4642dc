"""The main path end to end through HTTP: task fan-out, node picks up, result, wait."""

from __future__ import annotations

from tests.server.conftest import World


def test_task_flow_through_node_patch(world: World) -> None:
    # Prepare
    api = world.api
    task = world.task()
    node = world.node_token("a")
    # Execute
    runs = api.ok("GET", "/run", params={"task_id": task["id"]}, token=node)["data"]
    mine = [r for r in runs if r["organization_id"] == world.org_a]
    run_id = mine[0]["id"]
    for status in ("initializing", "active"):
        api.ok("PATCH", f"/run/{run_id}", json={"status": status}, token=node)
    done = api.ok("PATCH", f"/run/{run_id}", json={"status": "completed",
                                                  "result": "eyJ4IjogMX0="}, token=node)
    # Assert
    assert done["status"] == "completed"
    assert done["finished_at"] is not None and done["started_at"] is not None
    assert api.ok("GET", f"/task/{task['id']}")["status"] == "active"
    result = api.ok("GET", f"/result/{run_id}")
    assert result["result"] == "eyJ4IjogMX0=" and result["task_id"] == task["id"]


def test_main_flow_on_each_database(db_url: str) -> None:
    """Fan-out, node updates, events, kill and delete on SQLite and PostgreSQL."""
    from tests.server.conftest import ROOT_PASSWORD, Api, build_app, make_world

    app = build_app(db_url)
    try:
        anonymous = Api(app)
        api = anonymous.as_(anonymous.login("root", ROOT_PASSWORD))
        world = make_world(api)
        task = world.task()
        node = world.node_token("a")
        run = api.ok("GET", "/run", token=node, params={"task_id": task["id"],
                                                        "organization_id": world.org_a})
        run_id = run["data"][0]["id"]
        for status in ("initializing", "active"):
            api.ok("PATCH", f"/run/{run_id}", json={"status": status}, token=node)
        api.ok("PATCH", f"/run/{run_id}", json={"status": "failed", "log": "boom"},
               token=node)
        events = api.ok("GET", "/event", token=node, params={"since": 0})["events"]
        assert [e["type"] for e in events] == ["run_created"] + ["run_updated"] * 3
        api.ok("POST", f"/task/{task['id']}/kill")
        assert api.ok("GET", f"/task/{task['id']}")["status"] == "killed by user"
        api.ok("DELETE", f"/task/{task['id']}")
        assert api.ok("GET", "/task")["total"] == 0
        assert api.ok("GET", "/apidocs")["openapi"] == "3.1.0"
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()
