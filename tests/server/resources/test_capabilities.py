"""``GET /permissions`` and ``POST /user/{id}/mfa/reset``: what an interface needs to show
only what the caller may do, and an administrator's way out for a lost second factor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.server.conftest import World
from v6lib.server.db.models import User
from v6lib.server.permissions.roles import DEFAULT_ROLES


def _grants(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["name"], r["scope"], r["operation"]) for r in body["rules"]}


def test_a_user_reads_exactly_its_rules_and_reach(world: World) -> None:
    viewer = world.user("vic", world.org_a, ["Viewer"])
    body = world.api.ok("GET", "/permissions", token=viewer)
    assert body["kind"] == "user" and body["organization_id"] == world.org_a
    assert body["collaboration_ids"] == [world.collab]
    assert set(body["collab_org_ids"]) >= {world.org_a, world.org_b}
    assert world.org_c not in body["collab_org_ids"]
    assert _grants(body) == {tuple(r) for r in DEFAULT_ROLES["Viewer"][1]}


def test_a_node_reads_its_fixed_rules(world: World) -> None:
    body = world.api.ok("GET", "/permissions", token=world.node_token())
    assert body["kind"] == "node" and body["user_id"] is None
    assert ("task", "collaboration", "view") in _grants(body)


def _give_mfa(world: World, username: str) -> int:
    with world.api.app.v6_state.session_factory() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        user.mfa_secret, user.mfa_last_step = "JBSWY3DPEHPK3PXP", 1
        session.commit()
        return user.id


def _mfa_of(world: World, user_id: int) -> tuple[str | None, int | None]:
    with world.api.app.v6_state.session_factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.mfa_secret, user.mfa_last_step


def test_an_administrator_removes_a_lost_second_factor(world: World) -> None:
    admin = world.user("ada", world.org_a, ["Organization Admin"])
    world.user("rob", world.org_a, ["Researcher"])
    rob = _give_mfa(world, "rob")
    answer = world.api.ok("POST", f"/user/{rob}/mfa/reset", token=admin)
    assert "removed" in answer["msg"]
    assert _mfa_of(world, rob) == (None, None)


def test_only_those_who_may_manage_the_user(world: World) -> None:
    viewer = world.user("val", world.org_a, ["Viewer"])
    other_admin = world.user("bea", world.org_b, ["Organization Admin"])
    admin = world.user("ada", world.org_a, ["Organization Admin"])
    world.user("rob", world.org_a, ["Researcher"])
    rob = _give_mfa(world, "rob")
    assert world.api.post(f"/user/{rob}/mfa/reset", token=viewer).status_code == 403
    assert world.api.post(f"/user/{rob}/mfa/reset", token=other_admin).status_code == 404
    assert _mfa_of(world, rob)[0] is not None
    root_id = world.api.ok("GET", "/user", params={"username": "root"})["data"][0]["id"]
    root_org = world.api.ok("GET", f"/user/{root_id}")["organization_id"]
    root_org_admin = world.user("oa", root_org, ["Organization Admin"])
    refused = world.api.post(f"/user/{root_id}/mfa/reset", token=root_org_admin)
    assert refused.status_code == 403 and "rule(s) you do not hold" in refused.json["message"]
    assert world.api.post("/user/999999/mfa/reset", token=admin).status_code == 404
