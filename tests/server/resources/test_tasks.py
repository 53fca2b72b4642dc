"""``/task``: fan-out, targeting rules, subtasks from containers, kill and delete."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Api, World, root_org


def _runs(api: Api, task_id: int, token: str | None = None) -> list[dict[str, Any]]:
    return list(api.ok("GET", "/run", params={"task_id": task_id, "per_page": 100},
                       token=token)["data"])


def _start(api: Api, run_id: int, node: str) -> None:
    for status in ("initializing", "active"):
        api.ok("PATCH", f"/run/{run_id}", json={"status": status}, token=node)


def test_fan_out_one_pending_run_per_organization(world: World) -> None:
    api = world.api
    task = world.task(databases=[{"label": "default"}], description="d")
    assert task["status"] == "pending" and task["job_id"] == task["id"]
    assert task["parent_id"] is None and task["databases"] == [{"label": "default"}]
    runs = _runs(api, task["id"])
    assert sorted(r["organization_id"] for r in runs) == [world.org_a, world.org_b]
    assert {r["status"] for r in runs} == {"pending"}
    assert {r["input"] for r in runs} == {"e30="}
    assert {r["node_id"] for r in runs} == {world.node_a, world.node_b}
    assert all(r["assigned_at"] for r in runs)


def test_only_organizations_with_a_node_may_be_targeted(world: World, api: Api) -> None:
    api.ok("POST", f"/collaboration/{world.collab}/organization", json={"id": world.org_c})
    result = api.post("/task", json={
        "collaboration_id": world.collab, "image": "i",
        "organizations": [{"id": world.org_a, "input": "e30="},
                          {"id": world.org_c, "input": "e30="}]})
    assert result.status_code == 400
    assert result.json["details"]["organization_ids"] == [world.org_c]


def test_study_limits_targets(world: World) -> None:
    api = world.api
    study = api.ok("POST", "/study", 201, json={"name": "s", "collaboration_id": world.collab,
                                                "organization_ids": [world.org_a]})
    ok = world.task(orgs=[world.org_a], study_id=study["id"])
    assert ok["study_id"] == study["id"]
    bad = api.post("/task", json={"collaboration_id": world.collab, "image": "i",
                                  "study_id": study["id"],
                                  "organizations": [{"id": world.org_b, "input": "e30="}]})
    assert bad.status_code == 400 and "study" in bad.json["message"]


def test_duplicate_uid_and_organization(world: World) -> None:
    world.task(uid="fixed-uid")
    again = world.api.post("/task", json={
        "collaboration_id": world.collab, "image": "i", "uid": "fixed-uid",
        "organizations": [{"id": world.org_a, "input": "e30="}]})
    assert again.status_code == 409
    twice = world.api.post("/task", json={
        "collaboration_id": world.collab, "image": "i",
        "organizations": [{"id": world.org_a, "input": "e30="},
                          {"id": world.org_a, "input": "e30="}]})
    assert twice.status_code == 400


def _container(world: World, task: dict[str, Any], node: str) -> tuple[str, int]:
    api = world.api
    run = next(r for r in _runs(api, task["id"]) if r["organization_id"] == world.org_a)
    _start(api, run["id"], node)
    token = api.ok("POST", "/token/container", token=node,
                   json={"run_id": run["id"], "image": task["image"]})["container_token"]
    return token, run["id"]


def test_container_creates_subtask_in_same_job(world: World) -> None:
    api = world.api
    parent = world.task(orgs=[world.org_a])
    node = world.node_token("a")
    container, _ = _container(world, parent, node)
    sub = world.task(token=container)
    assert sub["parent_id"] == parent["id"] and sub["job_id"] == parent["job_id"]
    assert sub["init_org_id"] == world.org_a
    wrong_image = api.post("/task", token=container, json={
        "collaboration_id": world.collab, "image": "other:1",
        "organizations": [{"id": world.org_b, "input": "e30="}]})
    assert wrong_image.status_code == 403
    assert api.delete(f"/task/{sub['id']}", token=container).status_code == 403
    children = api.ok("GET", "/task", params={"parent_id": parent["id"]})["data"]
    assert [c["id"] for c in children] == [sub["id"]]
    # the container sees its own job's results, not other jobs
    other = world.task()
    assert api.get(f"/task/{other['id']}", token=container).status_code == 404
    assert len(_runs(api, sub["id"], token=container)) == 2
    killed = api.ok("POST", f"/task/{sub['id']}/kill", token=container)
    assert killed["status"] == "killed by user"


def test_subtask_without_databases_inherits_the_parents(world: World) -> None:
    dbs = [{"label": "default", "query": "SELECT 1"}, {"label": "extra"}]
    parent = world.task(orgs=[world.org_a], databases=dbs)
    assert parent["databases"] == dbs
    container, _ = _container(world, parent, world.node_token("a"))
    inherited = world.task(token=container)
    assert inherited["databases"] == dbs
    explicit = world.task(token=container, databases=[{"label": "other"}])
    assert explicit["databases"] == [{"label": "other"}]
    empty = world.task(token=container, databases=[])
    assert empty["databases"] == []
    # a user's task without databases has none
    assert world.task()["databases"] == []


def test_kill_kills_the_whole_tree(world: World) -> None:
    api = world.api
    parent = world.task(orgs=[world.org_a])
    node = world.node_token("a")
    container, parent_run = _container(world, parent, node)
    sub = world.task(token=container)
    grandchild_parent = next(r for r in _runs(api, sub["id"])
                             if r["organization_id"] == world.org_a)
    _start(api, grandchild_parent["id"], node)
    killed = api.ok("POST", f"/task/{parent['id']}/kill")
    assert killed["status"] == "killed by user"
    for task_id in (parent["id"], sub["id"]):
        runs = _runs(api, task_id)
        assert {r["status"] for r in runs} == {"killed by user"}
        assert all(r["finished_at"] for r in runs)
    events = api.ok("GET", "/event", params={"since": 0}, token=node)["events"]
    kills = [e for e in events if e["type"] == "task_killed"]
    assert {e["task_id"] for e in kills} == {parent["id"], sub["id"]}
    assert all(e["organization_id"] == world.org_a for e in kills)
    # a killed run cannot be revived, but resending its final status is fine
    assert api.patch(f"/run/{parent_run}", json={"status": "completed"},
                     token=node).status_code == 409


def test_finished_runs_survive_a_kill(world: World) -> None:
    api = world.api
    task = world.task()
    node = world.node_token("a")
    run = next(r for r in _runs(api, task["id"]) if r["organization_id"] == world.org_a)
    _start(api, run["id"], node)
    api.ok("PATCH", f"/run/{run['id']}", json={"status": "completed", "result": "e30="},
           token=node)
    api.ok("POST", f"/task/{task['id']}/kill")
    statuses = {r["organization_id"]: r["status"] for r in _runs(api, task["id"])}
    assert statuses == {world.org_a: "completed", world.org_b: "killed by user"}


def test_delete_removes_task_runs_and_subtasks(world: World) -> None:
    api = world.api
    parent = world.task(orgs=[world.org_a])
    container, _ = _container(world, parent, world.node_token("a"))
    sub = world.task(token=container)
    api.ok("DELETE", f"/task/{parent['id']}")
    assert api.get(f"/task/{parent['id']}").status_code == 404
    assert api.get(f"/task/{sub['id']}").status_code == 404
    assert api.ok("GET", "/run")["total"] == 0


def test_task_filters_and_status(world: World) -> None:
    api = world.api
    first = world.task()
    world.task()
    node = world.node_token("a")
    run = next(r for r in _runs(api, first["id"]) if r["organization_id"] == world.org_a)
    _start(api, run["id"], node)
    active = api.ok("GET", "/task", params={"status": "active"})["data"]
    assert [t["id"] for t in active] == [first["id"]]
    assert api.ok("GET", "/task", params={"collaboration_id": world.collab})["total"] == 2
    assert api.ok("GET", "/task", params={"job_id": first["id"]})["total"] == 1
    assert api.get("/task", params={"status": "bogus"}).status_code == 400


def test_nodes_cannot_create_tasks(world: World) -> None:
    result = world.api.post("/task", token=world.node_token("a"), json={
        "collaboration_id": world.collab, "image": "i",
        "organizations": [{"id": world.org_a, "input": "e30="}]})
    assert result.status_code == 403


def _outside_task(world: World, token: str | None = None, **extra: Any) -> Any:
    return world.api.post("/task", token=token, json={
        "collaboration_id": world.collab, "image": "img:1",
        "organizations": [{"id": world.org_a, "input": "e30="}], **extra})


def test_initiator_outside_the_collaboration_is_refused(world: World, api: Api) -> None:
    api.ok("DELETE", f"/collaboration/{world.collab}/organization", json={"id": root_org(api)})
    result = _outside_task(world)
    assert result.status_code == 403, result.text
    message = result.json["message"]
    assert f"organization {root_org(api)}" in message
    assert f"collaboration {world.collab}" in message
    assert result.json["details"]["organization_id"] == root_org(api)
    assert api.ok("GET", "/task")["total"] == 0 and api.ok("GET", "/run")["total"] == 0


def test_initiator_outside_an_encrypted_collaboration_is_refused(world: World,
                                                                 api: Api) -> None:
    api.ok("PATCH", f"/collaboration/{world.collab}", json={"encrypted": True})
    api.ok("DELETE", f"/collaboration/{world.collab}/organization", json={"id": root_org(api)})
    result = _outside_task(world)
    assert result.status_code == 403 and "not a member" in result.json["message"]


def test_member_user_of_an_outside_organization_is_refused(world: World, api: Api) -> None:
    """A researcher of C (outside the collaboration) is refused even with rights there."""
    outsider = world.user("res-c", world.org_c, ["Researcher", "Collaboration Admin"])
    result = _outside_task(world, token=outsider)
    assert result.status_code == 403
    member = world.user("res-a", world.org_a, ["Researcher"])
    created = world.task(token=member, orgs=[world.org_a])
    assert created["init_org_id"] == world.org_a


def test_subtask_is_refused_once_its_organization_left(world: World, api: Api) -> None:
    """A subtask's initiator is its parent's organization: the same membership rule."""
    parent = world.task(orgs=[world.org_a])
    container, _ = _container(world, parent, world.node_token("a"))
    ok = world.task(token=container, orgs=[world.org_a])
    assert ok["init_org_id"] == world.org_a and ok["parent_id"] == parent["id"]
    api.ok("DELETE", f"/collaboration/{world.collab}/organization", json={"id": world.org_a})
    # leaving the collaboration removes the organization's node there, and with it every
    # token of the runs that node started
    refused = _outside_task(world, token=container)
    assert refused.status_code == 401, refused.text
    assert "node of this container token no longer exists" in refused.json["message"]


def test_study_must_belong_to_the_collaboration(world: World, api: Api) -> None:
    other = api.ok("POST", "/collaboration", 201, json={
        "name": "other", "organization_ids": [world.org_a, root_org(api)]})
    study = api.ok("POST", "/study", 201, json={"name": "s2", "collaboration_id": other["id"],
                                                "organization_ids": [world.org_a]})
    result = _outside_task(world, study_id=study["id"])
    assert result.status_code == 400 and "study_id" in result.json["message"]


def test_study_members_must_be_collaboration_members(world: World, api: Api) -> None:
    result = api.post("/study", json={"name": "s", "collaboration_id": world.collab,
                                      "organization_ids": [world.org_a, world.org_c]})
    assert result.status_code == 400 and str(world.org_c) in result.json["message"]
    study = api.ok("POST", "/study", 201, json={"name": "s", "collaboration_id": world.collab,
                                                "organization_ids": [world.org_a]})
    patched = api.patch(f"/study/{study['id']}", json={"organization_ids": [world.org_c]})
    assert patched.status_code == 400


def test_targets_outside_the_collaboration_are_refused(world: World) -> None:
    result = world.api.post("/task", json={
        "collaboration_id": world.collab, "image": "i",
        "organizations": [{"id": world.org_c, "input": "e30="}]})
    assert result.status_code == 400
    assert result.json["details"]["organization_ids"] == [world.org_c]


def test_a_tasks_time_limit_is_kept_shown_and_handed_to_its_nodes(world: World) -> None:
    api = world.api
    task = world.task(max_run_seconds=90.5)
    assert task["max_run_seconds"] == 90.5
    assert api.ok("GET", f"/task/{task['id']}")["max_run_seconds"] == 90.5
    assert world.task()["max_run_seconds"] is None  # none asked: the nodes' own applies
    run = next(r for r in _runs(api, task["id"]) if r["organization_id"] == world.org_a)
    claim = api.ok("POST", f"/run/{run['id']}/claim", token=world.node_token("a"))
    assert claim["task"]["max_run_seconds"] == 90.5


def test_a_time_limit_that_is_not_a_positive_number_of_seconds_is_refused(
        world: World) -> None:
    for bad in (0, -1, "soon", True, 10 ** 9, [1]):
        answer = world.api.post("/task", json={
            "collaboration_id": world.collab, "image": "i", "max_run_seconds": bad,
            "organizations": [{"id": world.org_a, "input": "e30="}]})
        assert answer.status_code in (400, 422), (bad, answer.status_code)
        assert "max_run_seconds" in str(answer.json), bad
