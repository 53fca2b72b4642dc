"""Creating a task costs a fixed number of statements, however many organizations it has.

A statement-count ceiling, not a timing: the fan-out to one run (and one ``run_created``
event) per organization must stay one multi-row INSERT each, and membership must not be
checked by loading every member of the collaboration.
"""

from __future__ import annotations

from typing import Any

from tests.server.conftest import World
from tests.server.test_performance import count_queries

#: authentication (subject + permissions epoch), collaboration (+ initiator's membership),
#: the targeted nodes, task INSERT, job id UPDATE, runs, events; plus BEGIN IMMEDIATE on
#: SQLite or the transaction's NOTIFY on PostgreSQL
CEILING = 8


def _third_member(world: World) -> int:
    """Organization C joins the collaboration with a node of its own."""
    world.api.ok("POST", f"/collaboration/{world.collab}/organization", json={"id": world.org_c})
    world.api.ok("POST", "/node", 201, json={"collaboration_id": world.collab,
                                             "organization_id": world.org_c})
    return world.org_c


def test_creation_statements_do_not_grow_with_organizations(db_app: Any,
                                                            db_world: World) -> None:
    world, api = db_world, db_world.api
    orgs = [world.org_a, world.org_b, _third_member(world)]
    counts, task = [], {}
    for targets in (orgs[:1], orgs):
        with count_queries(db_app.v6_state.engine) as seen:
            task = world.task(orgs=targets)
        counts.append(len(seen))
    assert counts[0] == counts[1] <= CEILING, counts

    # every organization has its run, on its own node, and that node is told of it
    nodes = {n["organization_id"]: n["id"] for n in api.ok(
        "GET", "/node", params={"collaboration_id": world.collab})["data"]}
    runs = api.ok("GET", "/run", params={"task_id": task["id"]})["data"]
    assert sorted((r["organization"]["id"], r["node"]["id"], r["status"]) for r in runs) == \
        sorted((org, nodes[org], "pending") for org in orgs)
    run_of = {r["organization"]["id"]: r["id"] for r in runs}
    for which, org in (("a", world.org_a), ("b", world.org_b)):
        events = api.ok("GET", "/event", token=world.node_token(which),
                        params={"since": 0})["events"]
        told = [(e["run_id"], e["organization_id"]) for e in events
                if e["type"] == "run_created" and e["task_id"] == task["id"]]
        assert told == [(run_of[org], org)], (which, events)
    assert task["job_id"] == task["id"]


def test_a_member_of_another_collaboration_cannot_start_tasks_here(db_world: World) -> None:
    """Membership is asked of this collaboration's links, not of the initiator's others:
    even a caller whom the permission rules let create tasks anywhere is refused."""
    world, api = db_world, db_world.api
    api.ok("POST", "/collaboration", 201, json={"name": "elsewhere",
                                                "organization_ids": [world.org_c]})
    anywhere = world.user("c-root", world.org_c, ["Root"])
    body = {"collaboration_id": world.collab, "name": "t", "image": "img:1",
            "organizations": [{"id": world.org_a, "input": "e30="}]}
    result = api.post("/task", json=body, token=anywhere)
    assert result.status_code == 403 and "not a member" in result.json["message"], result.text
    assert api.ok("GET", "/task", params={"collaboration_id": world.collab})["total"] == 0
