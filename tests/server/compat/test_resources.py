"""vantage6's extra endpoints, on the same services and permissions as v6lib's own."""

from __future__ import annotations

from tests.server.conftest import Api, World


def test_task_status(world: World) -> None:
    task = world.task()
    assert world.api.ok("GET", f"/task/{task['id']}/status") == {
        "id": task["id"], "status": "pending"}


def test_task_status_of_an_invisible_task_is_404(world: World) -> None:
    task = world.task()
    outsider = world.user("res-c", world.org_c, ["Researcher"])
    assert world.api.get(f"/task/{task['id']}/status", token=outsider).status_code == 404


def test_kill_task_by_body_id(world: World) -> None:
    task = world.task()
    answer = world.api.ok("POST", "/kill/task", json={"id": task["id"]})
    assert answer["msg"] == f"task {task['id']} and its subtasks are killed"
    assert world.api.ok("GET", f"/task/{task['id']}")["status"] == "killed by user"


def test_kill_task_refuses_who_may_not_kill(world: World) -> None:
    task = world.task()
    viewer = world.user("viewer-a", world.org_a, ["Viewer"])
    refused = world.api.post("/kill/task", json={"id": task["id"]}, token=viewer)
    assert refused.status_code in (403, 404), refused.text
    assert world.api.ok("GET", f"/task/{task['id']}")["status"] == "pending"


def test_kill_task_bad_bodies_are_400(api: Api) -> None:
    for body in ({}, {"id": "x"}, {"id": 0}, {"id": 1, "extra": 1}):
        assert api.post("/kill/task", json=body).status_code == 400


def test_collaboration_nodes(world: World) -> None:
    page = world.api.ok("GET", f"/collaboration/{world.collab}/node")
    assert sorted(n["id"] for n in page["data"]) == sorted([world.node_a, world.node_b])
    assert world.api.get("/collaboration/999/node").status_code == 404


def test_collaboration_nodes_hidden_from_outsiders(world: World) -> None:
    outsider = world.user("res-c", world.org_c, ["Researcher"])
    assert world.api.get(f"/collaboration/{world.collab}/node",
                         token=outsider).status_code == 404


def test_blob_store_is_never_used(api: Api) -> None:
    assert api.ok("GET", "/blobstream/status") == {"blob_store_enabled": False}


def test_kill_node_tasks_kills_only_that_nodes_runs(world: World) -> None:
    task = world.task()
    answer = world.api.ok("POST", "/kill/node/tasks", json={"id": world.node_a})
    assert answer["msg"] == f"killed the unfinished runs of node {world.node_a} " \
                            f"(tasks [{task['id']}])"
    runs = {r["organization_id"]: r["status"] for r in
            world.api.ok("GET", "/run", params={"task_id": task["id"]})["data"]}
    assert runs == {world.org_a: "killed by user", world.org_b: "pending"}


def test_kill_node_tasks_needs_the_right_to_kill_every_task(world: World) -> None:
    task = world.task()
    viewer = world.user("viewer-a", world.org_a, ["Viewer"])
    refused = world.api.post("/kill/node/tasks", json={"id": world.node_a}, token=viewer)
    assert refused.status_code == 403, refused.text
    statuses = {r["status"] for r in
                world.api.ok("GET", "/run", params={"task_id": task["id"]})["data"]}
    assert statuses == {"pending"}
    assert world.api.post("/kill/node/tasks", json={"id": 999}).status_code == 404


def test_study_organizations_added_and_removed_one_at_a_time(world: World) -> None:
    study = world.api.ok("POST", "/study", 201, json={
        "name": "s", "collaboration_id": world.collab, "organization_ids": [world.org_a]})
    path = f"/study/{study['id']}/organization"
    added = world.api.ok("POST", path, json={"id": world.org_b})
    assert sorted(added["organization_ids"]) == sorted([world.org_a, world.org_b])
    removed = world.api.ok("DELETE", path, json={"id": world.org_a})
    assert removed["organization_ids"] == [world.org_b]
    outside = world.api.post(path, json={"id": world.org_c})
    assert outside.status_code == 400 and "not members" in outside.json["msg"]


def test_study_organizations_need_the_right_to_edit_the_study(world: World) -> None:
    study = world.api.ok("POST", "/study", 201, json={
        "name": "s", "collaboration_id": world.collab, "organization_ids": [world.org_a]})
    researcher = world.user("res-a", world.org_a, ["Researcher"])
    refused = world.api.post(f"/study/{study['id']}/organization", json={"id": world.org_b},
                             token=researcher)
    assert refused.status_code == 403, refused.text
