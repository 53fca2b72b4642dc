"""``/user``, ``/role`` and ``/rule`` endpoints, and grants limited to what one holds."""

from __future__ import annotations

from tests.server.conftest import PASSWORD, Api, World, role_id


def test_user_crud(world: World) -> None:
    api = world.api
    researcher = role_id(api, "Researcher")
    user = api.ok("POST", "/user", 201, json={
        "username": "ann", "password": PASSWORD, "email": "ann@a.org",
        "organization_id": world.org_a, "role_ids": [researcher]})
    assert user["role_ids"] == [researcher] and "password" not in user
    assert api.post("/user", json={"username": "ann", "password": PASSWORD,
                                   "organization_id": world.org_a}).status_code == 409
    weak = api.post("/user", json={"username": "bob", "password": "short",
                                   "organization_id": world.org_a})
    assert weak.status_code == 400 and weak.json["details"]["field"] == "password"
    patched = api.ok("PATCH", f"/user/{user['id']}", json={"firstname": "Ann", "role_ids": []})
    assert patched["firstname"] == "Ann" and patched["role_ids"] == []
    listed = api.ok("GET", "/user", params={"organization_id": world.org_a})
    assert [u["username"] for u in listed["data"]] == ["ann"]
    api.ok("DELETE", f"/user/{user['id']}")
    assert api.get(f"/user/{user['id']}").status_code == 404


def test_cannot_delete_yourself(api: Api) -> None:
    me = api.ok("GET", "/user", params={"username": "root"})["data"][0]
    assert api.delete(f"/user/{me['id']}").status_code == 409


def test_role_crud_and_rule_listing(world: World) -> None:
    api = world.api
    rules = api.ok("GET", "/rule", params={"name": "task", "operation": "view",
                                           "per_page": 100})["data"]
    assert {r["scope"] for r in rules} == {"own", "organization", "collaboration", "global"}
    role = api.ok("POST", "/role", 201, json={"name": "task viewers", "organization_id":
                                              world.org_a, "rule_ids": [rules[0]["id"]]})
    assert role["rule_ids"] == [rules[0]["id"]]
    edited = api.ok("PATCH", f"/role/{role['id']}", json={"description": "d", "rule_ids": []})
    assert edited["rule_ids"] == [] and edited["description"] == "d"
    assert api.ok("GET", f"/rule/{rules[0]['id']}")["name"] == "task"
    in_role = api.ok("GET", "/rule", params={"role_id": role_id(api, "Viewer"),
                                             "per_page": 100})
    assert in_role["total"] > 0
    defaults = api.ok("GET", "/role", params={"organization_id": world.org_a,
                                              "per_page": 100})["data"]
    names = {r["name"] for r in defaults}
    assert {"Root", "Researcher", "Viewer", "Organization Admin",
            "Collaboration Admin", "task viewers"} <= names
    own = api.ok("GET", "/role", params={"include_default": "false"})["data"]
    assert [r["name"] for r in own] == ["task viewers"]
    api.ok("DELETE", f"/role/{role['id']}")
    assert api.get(f"/role/{role['id']}").status_code == 404


def test_cannot_grant_rules_you_do_not_hold(world: World) -> None:
    api = world.api
    admin = world.user("admin-a", world.org_a, ["Organization Admin"])
    root_role = role_id(api, "Root")
    escalate = api.post("/user", token=admin, json={
        "username": "evil", "password": PASSWORD, "role_ids": [root_role]})
    assert escalate.status_code == 403
    global_rule = api.ok("GET", "/rule", params={"scope": "global", "name": "organization",
                                                 "operation": "create"})["data"][0]
    sneaky = api.post("/role", token=admin, json={"name": "sneaky",
                                                  "rule_ids": [global_rule["id"]]})
    assert sneaky.status_code == 403
    ok = api.post("/user", token=admin, json={
        "username": "fine", "password": PASSWORD,
        "role_ids": [role_id(api, "Researcher")]})
    assert ok.status_code == 201 and ok.json["organization_id"] == world.org_a


def test_roles_of_another_organization_cannot_be_given(world: World) -> None:
    api = world.api
    role = api.ok("POST", "/role", 201, json={"name": "b-only", "organization_id": world.org_b})
    result = api.post("/user", json={"username": "x", "password": PASSWORD,
                                     "organization_id": world.org_a,
                                     "role_ids": [role["id"]]})
    assert result.status_code == 400


def test_default_password_policy_is_vantage6s(world: World) -> None:
    """8+ characters with upper, lower, digit and special character, by default."""
    from v6lib.config import ServerConfig
    from v6lib.server.auth.passwords import PasswordPolicy

    assert isinstance(ServerConfig().password_policy, PasswordPolicy)
    api = world.api
    for weak, missing in (("abcdefg1", "uppercase"), ("ABCDEFG1!", "lowercase"),
                          ("Abcdefgh!", "digit"), ("Abcdefg12", "special"),
                          ("Ab1!", "8 characters")):
        result = api.post("/user", json={"username": "weak", "password": weak,
                                         "organization_id": world.org_a})
        assert result.status_code == 400, weak
        assert missing in result.json["message"], (weak, result.json["message"])
    api.ok("POST", "/user", 201, json={"username": "strong", "password": "Abcdefg1!",
                                       "organization_id": world.org_a})


def test_default_roles_are_protected(api: Api) -> None:
    """Even root cannot delete a default role or change its name or rules (409)."""
    rules = api.ok("GET", "/rule", params={"per_page": 1})["data"]
    for name in ("Root", "Viewer", "Researcher"):
        rid = role_id(api, name)
        role = api.ok("GET", f"/role/{rid}")
        deleted = api.delete(f"/role/{rid}")
        assert deleted.status_code == 409 and "default role" in deleted.json["message"]
        for body in ({"name": f"{name} 2"}, {"rule_ids": [rules[0]["id"]]}):
            edited = api.patch(f"/role/{rid}", json=body)
            assert edited.status_code == 409, (name, body, edited.text)
            assert "only its description" in edited.json["message"]
        same = api.ok("PATCH", f"/role/{rid}", json={"description": "mine", "name": name,
                                                     "rule_ids": role["rule_ids"]})
        assert same["description"] == "mine" and same["rule_ids"] == role["rule_ids"]
        assert api.ok("GET", f"/role/{rid}")["name"] == name
