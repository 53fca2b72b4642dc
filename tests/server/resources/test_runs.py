"""``PATCH /run/{id}``: the state machine, idempotent resends, ownership; ``/result``."""

from __future__ import annotations

import pytest

from tests.server.conftest import World


@pytest.fixture
def setup(world: World) -> tuple[World, int, str]:
    task = world.task()
    node = world.node_token("a")
    runs = world.api.ok("GET", "/run", params={"task_id": task["id"],
                                               "organization_id": world.org_a})["data"]
    return world, runs[0]["id"], node


def test_illegal_transition_is_409(setup: tuple[World, int, str]) -> None:
    world, run_id, node = setup
    result = world.api.patch(f"/run/{run_id}", json={"status": "completed"}, token=node)
    assert result.status_code == 409 and result.json["code"] == "conflict"
    assert result.json["details"] == {"current": "pending", "requested": "completed"}


def test_result_only_with_final_status(setup: tuple[World, int, str]) -> None:
    world, run_id, node = setup
    result = world.api.patch(f"/run/{run_id}", json={"status": "initializing",
                                                     "result": "e30="}, token=node)
    assert result.status_code == 400 and result.json["details"]["field"] == "result"


def test_full_life_and_idempotent_resend(setup: tuple[World, int, str]) -> None:
    world, run_id, node = setup
    api = world.api
    api.ok("PATCH", f"/run/{run_id}", json={"status": "initializing"}, token=node)
    started = api.ok("PATCH", f"/run/{run_id}", json={"status": "active"}, token=node)
    assert started["started_at"] is not None and started["finished_at"] is None
    done = api.ok("PATCH", f"/run/{run_id}", json={"status": "completed", "result": "eyJhIjoxfQ==",
                                                   "log": "ok"}, token=node)
    again = api.ok("PATCH", f"/run/{run_id}", json={"status": "completed",
                                                    "result": "eyJhIjoxfQ=="}, token=node)
    assert again == done
    assert api.patch(f"/run/{run_id}", json={"status": "active"}, token=node).status_code == 409
    results = api.ok("GET", "/result", params={"task_id": done["task_id"]})["data"]
    mine = next(r for r in results if r["run_id"] == run_id)
    assert mine["result"] == "eyJhIjoxfQ==" and mine["log"] == "ok"
    assert mine["status"] == "completed"


def test_failure_path_sets_reason_and_task_status(setup: tuple[World, int, str]) -> None:
    world, run_id, node = setup
    api = world.api
    api.ok("PATCH", f"/run/{run_id}", json={"status": "initializing"}, token=node)
    failed = api.ok("PATCH", f"/run/{run_id}", json={"status": "no docker image",
                                                     "reason": "pull failed"}, token=node)
    assert failed["reason"] == "pull failed" and failed["finished_at"] is not None
    other = api.ok("GET", "/run", params={"task_id": failed["task_id"],
                                          "organization_id": world.org_b})["data"][0]
    node_b = world.node_token("b")
    api.ok("PATCH", f"/run/{other['id']}", json={"status": "not allowed"}, token=node_b)
    assert api.ok("GET", f"/task/{failed['task_id']}")["status"] == "no docker image"


def test_only_the_runs_node_may_patch(setup: tuple[World, int, str]) -> None:
    world, run_id, _ = setup
    api = world.api
    other = api.patch(f"/run/{run_id}", json={"status": "initializing"},
                      token=world.node_token("b"))
    assert other.status_code == 403
    assert api.patch(f"/run/{run_id}", json={"status": "initializing"}).status_code == 403


def test_run_filters(setup: tuple[World, int, str]) -> None:
    world, run_id, node = setup
    api = world.api
    api.ok("PATCH", f"/run/{run_id}", json={"status": "initializing"}, token=node)
    found = api.ok("GET", "/run", params={"status": "initializing"})["data"]
    assert [r["id"] for r in found] == [run_id]
    assert api.ok("GET", "/run", params={"node_id": world.node_b})["total"] == 1
    assert api.ok("GET", f"/run/{run_id}")["status"] == "initializing"
    assert api.get("/run/999999").status_code == 404
