"""``POST /run/{id}/claim``: a node takes a pending run, its task and container token at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.server.conftest import World
from v6lib.schemas.run import RunClaimOut


def _task(world: World, **extra: Any) -> dict[str, Any]:
    """A task for A and B created by a researcher of A (a member of the collaboration)."""
    researcher = world.user(f"res-{len(world.tokens)}", world.org_a, ["Researcher"])
    world.tokens[f"res-{len(world.tokens)}"] = researcher
    return world.task(token=researcher, **extra)


def _run_of(world: World, task: dict[str, Any], org: int) -> dict[str, Any]:
    runs = world.api.ok("GET", "/run", params={"task_id": task["id"],
                                               "organization_id": org})["data"]
    return dict(runs[0])


@pytest.fixture
def claimable(world: World) -> tuple[World, dict[str, Any], dict[str, Any], str]:
    task = _task(world, databases=[{"label": "default", "query": "q1"}])
    return world, task, _run_of(world, task, world.org_a), world.node_token("a")


def test_claim_moves_pending_to_initializing_and_hands_out_everything(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, task, run, node = claimable
    api = world.api
    since = api.ok("GET", "/event", token=node, params={"since": 0})["cursor"]
    body = api.ok("POST", f"/run/{run['id']}/claim", token=node)
    RunClaimOut.from_reply(body)  # what the node parses the reply with
    assert body["run"]["id"] == run["id"] and body["run"]["status"] == "initializing"
    assert body["run"]["node_id"] == world.node_a
    assert body["run"]["input"] == "e30="
    claimed_task = body["task"]
    for key in ("id", "uid", "job_id", "image", "collaboration_id", "init_org_id",
                "init_user_id"):
        assert claimed_task[key] == task[key], key
    assert claimed_task["databases"] == [{"label": "default", "query": "q1"}]
    assert claimed_task["init_org_id"] == world.org_a
    # the token is a working container token of this run
    container = body["container_token"]
    assert api.ok("GET", f"/task/{task['id']}", token=container)["id"] == task["id"]
    # the server's view and the event the other parties see match the old PATCH path
    assert api.ok("GET", f"/run/{run['id']}")["status"] == "initializing"
    events = api.ok("GET", "/event", token=node, params={"since": since})["events"]
    assert [(e["type"], e["run_id"], e["status"]) for e in events] == [
        ("run_updated", run["id"], "initializing")]


def test_reclaim_by_the_same_node_resumes(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, task, run, node = claimable
    api = world.api
    first = api.ok("POST", f"/run/{run['id']}/claim", token=node)
    cursor = api.ok("GET", "/event", token=node, params={"since": 0})["cursor"]
    again = api.ok("POST", f"/run/{run['id']}/claim", token=world.node_token("a"))
    assert again["run"] == first["run"] and again["task"] == first["task"]
    assert api.ok("GET", f"/task/{task['id']}", token=again["container_token"])["id"] == \
        task["id"]
    # nothing changed, so nothing was announced
    assert api.ok("GET", "/event", token=node, params={"since": cursor,
                                                       "timeout": 0})["events"] == []


def test_a_run_claimed_through_the_old_patch_can_be_resumed(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, _, run, node = claimable
    world.api.ok("PATCH", f"/run/{run['id']}", token=node, json={"status": "initializing"})
    body = world.api.ok("POST", f"/run/{run['id']}/claim", token=node)
    assert body["run"]["status"] == "initializing"


def test_only_the_runs_node_may_claim(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, _, run, _node = claimable
    api = world.api
    other = api.post(f"/run/{run['id']}/claim", token=world.node_token("b"))
    assert other.status_code == 403 and other.json["code"] == "permission_denied"
    assert "another node" in other.json["message"]
    by_root = api.post(f"/run/{run['id']}/claim")
    assert by_root.status_code == 403 and "only the node" in by_root.json["message"]
    # a node outside the collaboration does not even see the run
    collab = api.ok("POST", "/collaboration", 201,
                    json={"name": "elsewhere", "organization_ids": [world.org_c]})["id"]
    key = api.ok("POST", "/node", 201, json={"collaboration_id": collab,
                                             "organization_id": world.org_c})["api_key"]
    outsider = api.post(f"/run/{run['id']}/claim", token=api.node_login(key))
    assert outsider.status_code == 404 and outsider.json["code"] == "not_found"
    assert api.ok("GET", f"/run/{run['id']}")["status"] == "pending"


@pytest.mark.parametrize(("steps", "current", "words"), [
    ([{"status": "initializing"}, {"status": "active"}], "active", "already active"),
    ([{"status": "not allowed"}], "not allowed", "already ended"),
    ([{"status": "initializing"}, {"status": "active"},
      {"status": "completed", "result": "e30="}], "completed", "already ended"),
])
def test_a_run_that_is_not_pending_is_409(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str],
        steps: list[dict[str, Any]], current: str, words: str) -> None:
    world, _, run, node = claimable
    for step in steps:
        world.api.ok("PATCH", f"/run/{run['id']}", token=node, json=step)
    refused = world.api.post(f"/run/{run['id']}/claim", token=node)
    assert refused.status_code == 409 and refused.json["code"] == "conflict"
    assert words in refused.json["message"] and f"run {run['id']}" in refused.json["message"]
    assert refused.json["details"] == {"current": current, "requested": "initializing"}


def test_a_killed_run_is_409(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, task, run, node = claimable
    world.api.ok("POST", f"/task/{task['id']}/kill")
    refused = world.api.post(f"/run/{run['id']}/claim", token=node)
    assert refused.status_code == 409
    assert "was killed" in refused.json["message"]
    assert refused.json["details"]["current"] == "killed by user"


def test_unauthenticated_is_401_json(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, _, run, _node = claimable
    anonymous = world.api.as_(None)
    refused = anonymous.post(f"/run/{run['id']}/claim")
    assert refused.status_code == 401 and refused.json["code"]
    bad = anonymous.post(f"/run/{run['id']}/claim", token="not-a-token")
    assert bad.status_code == 401
    assert world.api.ok("GET", f"/run/{run['id']}")["status"] == "pending"


@pytest.mark.parametrize("path", ["/run/abc/claim", "/run/0/claim", "/run/-1/claim",
                                  "/run/99999999999/claim", "/run/987654/claim"])
def test_malformed_or_unknown_id_is_404_json(world: World, path: str) -> None:
    refused = world.api.post(path, token=world.node_token("a"))
    assert refused.status_code == 404 and refused.json["code"] == "not_found"


def test_only_post_is_answered(
        claimable: tuple[World, dict[str, Any], dict[str, Any], str]) -> None:
    world, _, run, node = claimable
    refused = world.api.get(f"/run/{run['id']}/claim", token=node)
    assert refused.status_code == 405 and refused.json["code"] == "method_not_allowed"


def test_claim_on_every_backend(db_world: World) -> None:
    """The row lock and the transaction on SQLite and PostgreSQL (marked)."""
    task = _task(db_world)
    run = _run_of(db_world, task, db_world.org_b)
    node = db_world.node_token("b")
    body = db_world.api.ok("POST", f"/run/{run['id']}/claim", token=node)
    assert body["run"]["status"] == "initializing" and body["task"]["id"] == task["id"]
    db_world.api.ok("PATCH", f"/run/{run['id']}", token=node, json={"status": "active"})
    assert db_world.api.post(f"/run/{run['id']}/claim", token=node).status_code == 409
    assert db_world.api.ok("GET", f"/task/{task['id']}")["status"] == "active"


def test_concurrent_claims_change_the_run_once(db_world: World) -> None:
    """Racing claims of one run (event and sweep at once): one transition, one event."""
    task = _task(db_world)
    run = _run_of(db_world, task, db_world.org_a)
    node = db_world.node_token("a")
    api = db_world.api
    cursor = api.ok("GET", "/event", token=node, params={"since": 0})["cursor"]
    answers: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        status = api.post(f"/run/{run['id']}/claim", token=node).status_code
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 6
    events = api.ok("GET", "/event", token=node, params={"since": cursor})["events"]
    assert [(e["run_id"], e["status"]) for e in events] == [(run["id"], "initializing")]
