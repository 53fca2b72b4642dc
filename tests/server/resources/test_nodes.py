"""``/node`` endpoints and node login by API key."""

from __future__ import annotations

from tests.server.conftest import Api, World


def test_node_key_shown_once_and_login_works(world: World) -> None:
    api = world.api
    node = api.ok("GET", f"/node/{world.node_a}")
    assert "api_key" not in node and node["status"] == "offline"
    login = api.ok("POST", "/token/node", json={"api_key": world.key_a}, token="")
    assert login["id"] == world.node_a and login["node_url"].endswith(f"/node/{world.node_a}")
    assert api.ok("GET", f"/node/{world.node_a}")["status"] == "online"
    bad = api.post("/token/node", json={"api_key": "wrong"}, token="")
    assert bad.status_code == 401


def test_reset_api_key_invalidates_the_old_one(world: World) -> None:
    api = world.api
    new = api.ok("POST", f"/node/{world.node_a}/api_key")["api_key"]
    assert new != world.key_a
    assert api.post("/token/node", json={"api_key": world.key_a}, token="").status_code == 401
    assert api.node_login(new)


def test_node_unique_per_organization_and_collaboration(world: World) -> None:
    again = world.api.post("/node", json={"collaboration_id": world.collab,
                                          "organization_id": world.org_a})
    assert again.status_code == 409


def test_node_needs_membership(world: World) -> None:
    result = world.api.post("/node", json={"collaboration_id": world.collab,
                                           "organization_id": world.org_c})
    assert result.status_code == 400 and "not a member" in result.json["message"]


def test_node_patch_list_delete(world: World) -> None:
    api = world.api
    assert api.ok("PATCH", f"/node/{world.node_a}", json={"name": "n-a"})["name"] == "n-a"
    listed = api.ok("GET", "/node", params={"organization_id": world.org_b})
    assert [n["id"] for n in listed["data"]] == [world.node_b]
    api.ok("DELETE", f"/node/{world.node_b}")
    assert api.get(f"/node/{world.node_b}").status_code == 404


def test_node_sees_its_collaboration_only(world: World, api: Api) -> None:
    other = api.ok("POST", "/collaboration", 201, json={"name": "other",
                                                        "organization_ids": [world.org_c]})
    api.ok("POST", "/node", 201, json={"collaboration_id": other["id"],
                                       "organization_id": world.org_c})
    token = world.node_token("a")
    nodes = api.ok("GET", "/node", token=token)["data"]
    assert {n["id"] for n in nodes} == {world.node_a, world.node_b}
    assert api.get(f"/collaboration/{other['id']}", token=token).status_code == 404
    assert api.post("/organization", json={"name": "x"}, token=token).status_code == 403
