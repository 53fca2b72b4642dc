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


def test_reset_api_key_revokes_the_nodes_tokens(world: World) -> None:
    api = world.api
    before = api.ok("POST", "/token/node", json={"api_key": world.key_a}, token="")
    other = api.ok("POST", "/token/node", json={"api_key": world.key_b}, token="")
    new = api.ok("POST", f"/node/{world.node_a}/api_key")["api_key"]
    denied = api.get(f"/node/{world.node_a}", token=before["access_token"])
    assert denied.status_code == 401 and "API key reset" in denied.json["message"]
    assert api.post("/token/refresh", token=before["refresh_token"]).status_code == 401
    after = api.ok("POST", "/token/node", json={"api_key": new}, token="")
    renewed = api.ok("POST", "/token/refresh", token=after["refresh_token"])
    assert api.get(f"/node/{world.node_a}", token=renewed["access_token"]).status_code == 200
    # another node's tokens are untouched
    assert api.get(f"/node/{world.node_b}", token=other["access_token"]).status_code == 200
    assert api.post("/token/refresh", token=other["refresh_token"]).status_code == 200


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


def test_node_status_follows_logins_and_event_polls(sqlite_url: str) -> None:
    from tests.server.conftest import ROOT_PASSWORD, build_app, make_world
    from tests.server.resources.test_tokens import FakeClock

    clock = FakeClock()
    app = build_app(sqlite_url, clock=clock)
    try:
        anonymous = Api(app)
        world = make_world(anonymous.as_(anonymous.login("root", ROOT_PASSWORD)))
        api = world.api

        def seen() -> tuple[str, str | None]:
            node = api.ok("GET", f"/node/{world.node_a}")
            listed = api.ok("GET", "/node", params={"collaboration_id": world.collab})
            assert next(n for n in listed["data"] if n["id"] == world.node_a) == node
            return node["status"], node["last_seen_at"]

        assert seen() == ("offline", None)
        token = world.node_token("a")  # logging in counts as being seen
        status, at_login = seen()
        assert status == "online" and at_login is not None
        clock.advance(seconds=10)
        api.ok("GET", "/event", token=token)
        assert seen() == ("online", at_login)  # at most one write per 30 s
        clock.advance(seconds=25)
        api.ok("GET", "/event", token=token)
        status, polled = seen()
        assert status == "online" and polled is not None and polled > at_login
        clock.advance(seconds=119)
        assert seen()[0] == "online"
        clock.advance(seconds=2)  # two event timeouts (2 x 60 s) without a poll
        assert seen() == ("offline", polled)
        api.ok("GET", "/event", token=token)
        assert seen()[0] == "online"
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


def test_every_bad_node_key_gets_the_same_answer(world: World) -> None:
    api = world.api
    selector, _, secret = world.key_a.partition(".")
    attempts = [
        "wrong",                                   # no selector at all (or the old format)
        f"{'x' * len(selector)}.{secret}",         # unknown selector
        f"{selector}.{'A' * len(secret)}",         # known selector, wrong secret
    ]
    answers = [api.post("/token/node", json={"api_key": key}, token="") for key in attempts]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1


def test_node_keys_are_selector_dot_secret(world: World) -> None:
    selector, dot, secret = world.key_a.partition(".")
    assert dot and len(selector) == 16 and len(secret) >= 43
    assert world.key_b.partition(".")[0] != selector


def test_a_node_publishes_its_audit_head_and_never_backwards(world: World) -> None:
    api = world.api
    node = api.node_login(world.key_a)
    head = "a" * 64
    path = f"/node/{world.node_a}/audit"
    published = api.ok("PUT", path, json={"count": 3, "head": head}, token=node)
    assert (published["audit_count"], published["audit_head"]) == (3, head)
    assert published["audit_published_at"] is not None
    assert api.ok("GET", f"/node/{world.node_a}")["audit_count"] == 3  # the admin sees it
    api.ok("PUT", path, json={"count": 3, "head": head}, token=node)  # the same again: fine
    shorter = api.call("PUT", path, json={"count": 2, "head": "b" * 64}, token=node)
    assert shorter.status_code == 409 and "published at entry 3" in shorter.json["message"]
    rewritten = api.call("PUT", path, json={"count": 3, "head": "c" * 64}, token=node)
    assert rewritten.status_code == 409
    api.ok("PUT", path, json={"count": 4, "head": "d" * 64}, token=node)
    # only the node itself: not another node, not a user
    other = api.node_login(world.key_b)
    assert api.call("PUT", path, json={"count": 9, "head": head}, token=other).status_code == 403
    assert api.call("PUT", path, json={"count": 9, "head": head}).status_code == 403
    assert api.call("PUT", path, json={"count": 9, "head": "xyz"},
                    token=node).status_code == 400
