"""``POST /run/{id}/progress``: the node's report, reduced again by the server's rule."""

from __future__ import annotations

import pytest

from tests.server.conftest import World


@pytest.fixture
def running(world: World) -> tuple[World, int, str]:
    task = world.task()
    node = world.node_token("a")
    run_id = world.api.ok("GET", "/run", params={"task_id": task["id"],
                                                 "organization_id": world.org_a})["data"][0]["id"]
    for status in ("initializing", "active"):
        world.api.ok("PATCH", f"/run/{run_id}", json={"status": status}, token=node)
    return world, run_id, node


def test_progress_is_kept_in_whole_percent_and_never_goes_down(
        running: tuple[World, int, str]) -> None:
    world, run_id, node = running
    first = world.api.ok("POST", f"/run/{run_id}/progress",
                         json={"progress": 0.4567, "message": "iteration 4/10"}, token=node)
    assert (first["progress"], first["progress_message"]) == (0.46, "iteration 4/10")
    lower = world.api.ok("POST", f"/run/{run_id}/progress",
                         json={"progress": 0.1, "message": "age=43.2 <secret>"}, token=node)
    assert (lower["progress"], lower["progress_message"]) == (0.46, "age43.2 secret")
    assert world.api.ok("GET", f"/run/{run_id}")["progress"] == 0.46


def test_only_the_runs_node_may_report(running: tuple[World, int, str]) -> None:
    world, run_id, _ = running
    body = {"progress": 0.5}
    assert world.api.post(f"/run/{run_id}/progress", json=body,
                          token=world.node_token("b")).status_code == 403
    assert world.api.post(f"/run/{run_id}/progress", json=body).status_code == 403


def test_progress_of_an_ended_run_is_409(running: tuple[World, int, str]) -> None:
    world, run_id, node = running
    world.api.ok("PATCH", f"/run/{run_id}", json={"status": "failed"}, token=node)
    answer = world.api.post(f"/run/{run_id}/progress", json={"progress": 0.5}, token=node)
    assert answer.status_code == 409 and answer.json["code"] == "conflict"


@pytest.mark.parametrize("body", [{"progress": 1.5}, {"progress": "half"}, {},
                                  {"progress": 0.5, "message": 3}, {"progress": 0.5, "x": 1}])
def test_bad_reports_are_400(running: tuple[World, int, str], body: dict[str, object]) -> None:
    world, run_id, node = running
    answer = world.api.post(f"/run/{run_id}/progress", json=body, token=node)
    assert answer.status_code == 400 and answer.json["code"] == "validation_error"
