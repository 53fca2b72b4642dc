"""Permission matrix: each default role of organization A against A's, B's and C's things.

A and B share collaboration AB; C and D share collaboration CD that A is not part of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.server.conftest import PASSWORD, Api, World, make_world, root_org


@dataclass
class Matrix:
    world: World
    collab_cd: int
    org_d: int
    task_b: int  # in AB, initiated by root, run only at B
    task_cd: int
    user_b: int
    user_c: int


@pytest.fixture
def matrix(api: Api) -> Matrix:
    world = make_world(api)
    org_d = api.ok("POST", "/organization", 201, json={"name": "org-d"})["id"]
    cd = api.ok("POST", "/collaboration", 201, json={"name": "cd", "organization_ids":
                                                     [world.org_c, org_d, root_org(api)]})["id"]
    api.ok("POST", "/node", 201, json={"collaboration_id": cd, "organization_id": world.org_c})
    task_cd = api.ok("POST", "/task", 201, json={
        "collaboration_id": cd, "image": "i",
        "organizations": [{"id": world.org_c, "input": "e30="}]})["id"]
    task_b = world.task(orgs=[world.org_b])["id"]
    user_b = api.ok("POST", "/user", 201, json={"username": "bee", "password": PASSWORD,
                                                "organization_id": world.org_b})["id"]
    user_c = api.ok("POST", "/user", 201, json={"username": "cee", "password": PASSWORD,
                                                "organization_id": world.org_c})["id"]
    return Matrix(world, cd, org_d, task_b, task_cd, user_b, user_c)


ROLES = ["Viewer", "Researcher", "Organization Admin", "Collaboration Admin"]
COLLAB_ADMIN = {"Collaboration Admin"}
CREATORS = {"Researcher", "Organization Admin", "Collaboration Admin"}
USER_ADMINS = {"Organization Admin", "Collaboration Admin"}


def _status(result: Any) -> int:
    return int(result.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_other_collaborations_are_invisible(matrix: Matrix, role: str) -> None:
    w = matrix.world
    token = w.user(f"u-{role}", w.org_a, [role])
    api = w.api.as_(token)
    assert _status(api.get(f"/collaboration/{matrix.collab_cd}")) == 404
    assert _status(api.get(f"/task/{matrix.task_cd}")) == 404
    assert _status(api.get(f"/user/{matrix.user_c}")) == 404
    assert _status(api.get(f"/organization/{matrix.org_d}")) == 404
    assert matrix.task_cd not in {t["id"] for t in api.ok("GET", "/task")["data"]}
    assert {c["id"] for c in api.ok("GET", "/collaboration")["data"]} == {w.collab}
    cd_task = api.post("/task", json={"collaboration_id": matrix.collab_cd, "image": "i",
                                      "organizations": [{"id": w.org_c, "input": "e30="}]})
    assert _status(cd_task) == 403
    assert _status(api.patch(f"/organization/{w.org_c}", json={"name": "x"})) == 404
    assert _status(api.post("/user", json={"username": "z", "password": PASSWORD,
                                           "organization_id": w.org_c})) == 403
    assert _status(api.post("/organization", json={"name": "new"})) == 403
    assert _status(api.post("/collaboration", json={"name": "new"})) == 403


@pytest.mark.parametrize("role", ROLES)
def test_partner_organization_needs_collaboration_scope(matrix: Matrix, role: str) -> None:
    w = matrix.world
    api = w.api.as_(w.user(f"u-{role}", w.org_a, [role]))
    sees_b = role in COLLAB_ADMIN
    assert _status(api.get(f"/user/{matrix.user_b}")) == (200 if sees_b else 404)
    assert _status(api.get(f"/task/{matrix.task_b}")) == (200 if sees_b else 404)
    assert _status(api.get(f"/node/{w.node_b}")) == (200 if sees_b else 404)
    # everyone in AB may see the partner organization itself
    assert _status(api.get(f"/organization/{w.org_b}")) == 200
    assert _status(api.patch(f"/organization/{w.org_b}", json={"domain": "x"})) == 403
    assert _status(api.post("/user", json={"username": "zz", "password": PASSWORD,
                                           "organization_id": w.org_b})) == 403
    kill = api.post(f"/task/{matrix.task_b}/kill")
    assert _status(kill) == (200 if sees_b else 404)
    runs = api.ok("GET", "/run", params={"task_id": matrix.task_b})
    assert runs["total"] == (1 if sees_b else 0)


@pytest.mark.parametrize("role", ROLES)
def test_own_organization_rights(matrix: Matrix, role: str) -> None:
    w = matrix.world
    api = w.api.as_(w.user(f"u-{role}", w.org_a, [role]))
    task = api.post("/task", json={"collaboration_id": w.collab, "image": "i",
                                   "organizations": [{"id": w.org_a, "input": "e30="}]})
    assert _status(task) == (201 if role in CREATORS else 403)
    new_user = api.post("/user", json={"username": f"n-{role}", "password": PASSWORD})
    assert _status(new_user) == (201 if role in USER_ADMINS else 403)
    edit_org = api.patch(f"/organization/{w.org_a}", json={"domain": "a.org"})
    assert _status(edit_org) == (200 if role in USER_ADMINS else 403)
    new_key = api.post(f"/node/{w.node_a}/api_key")  # node edit, organization scope
    assert _status(new_key) == (200 if role in USER_ADMINS else 403)
    new_node = api.post("/node", json={"collaboration_id": matrix.collab_cd})
    assert _status(new_node) == 403
    delete_node = api.delete(f"/node/{w.node_a}")
    assert _status(delete_node) == (200 if role in COLLAB_ADMIN else 403)
    edit_collab = api.patch(f"/collaboration/{w.collab}", json={"name": f"c-{role}"})
    assert _status(edit_collab) == (200 if role in COLLAB_ADMIN else 403)
    study = api.post("/study", json={"name": "s", "collaboration_id": w.collab,
                                     "organization_ids": [w.org_a]})
    assert _status(study) == (201 if role in COLLAB_ADMIN else 403)
    assert _status(api.get(f"/organization/{w.org_a}")) == 200
    assert api.ok("GET", "/rule")["total"] > 0


def test_researcher_deletes_own_tasks_only(matrix: Matrix) -> None:
    w = matrix.world
    api = w.api.as_(w.user("res", w.org_a, ["Researcher"]))
    mine = api.ok("POST", "/task", 201, json={
        "collaboration_id": w.collab, "image": "i",
        "organizations": [{"id": w.org_a, "input": "e30="}]})["id"]
    colleague = w.api.as_(w.user("res2", w.org_a, ["Researcher"]))
    theirs = colleague.ok("POST", "/task", 201, json={
        "collaboration_id": w.collab, "image": "i",
        "organizations": [{"id": w.org_a, "input": "e30="}]})["id"]
    assert _status(api.get(f"/task/{theirs}")) == 200  # same organization: visible
    assert _status(api.delete(f"/task/{theirs}")) == 403
    assert _status(api.delete(f"/task/{mine}")) == 200


def test_user_without_roles_sees_nothing(matrix: Matrix) -> None:
    w = matrix.world
    api = w.api.as_(w.user("nobody", w.org_a, []))
    for path in ("/task", "/run", "/organization", "/collaboration", "/user", "/node",
                 "/study", "/rule"):
        assert api.ok("GET", path)["total"] == 0, path
    assert _status(api.get(f"/organization/{w.org_a}")) == 404


@pytest.mark.parametrize("role", ["Viewer", "Researcher"])
def test_organization_sees_every_run_of_its_own_tasks(matrix: Matrix, role: str) -> None:
    w = matrix.world
    researcher = w.api.as_(w.user("starter", w.org_a, ["Researcher"]))
    task = researcher.ok("POST", "/task", 201, json={
        "collaboration_id": w.collab, "image": "i",
        "organizations": [{"id": w.org_a, "input": "e30="}, {"id": w.org_b, "input": "e30="}]})
    api = w.api.as_(w.user(f"look-{role}", w.org_a, [role])) if role == "Viewer" else researcher
    runs = api.ok("GET", "/run", params={"task_id": task["id"]})["data"]
    assert sorted(r["organization_id"] for r in runs) == [w.org_a, w.org_b]
    results = api.ok("GET", "/result", params={"task_id": task["id"]})["data"]
    assert len(results) == 2
    # but not the runs at B of a task B's side started
    assert api.ok("GET", "/run", params={"task_id": matrix.task_b})["total"] == 0
