"""``/health``, ``/version`` and the remaining single-item reads."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Api, World, role_id
from v6lib import __version__


def test_health_and_version_need_no_token(app: Any) -> None:
    api = Api(app)
    assert api.ok("GET", "/health") == {"status": "ok", "database": "ok"}
    assert api.ok("GET", "/version") == {"version": __version__, "api": 1}
    assert api.get("/health").headers["X-Request-ID"]


def test_single_item_reads(world: World) -> None:
    api = world.api
    viewer = role_id(api, "Viewer")
    role = api.ok("GET", f"/role/{viewer}")
    assert role["name"] == "Viewer" and role["organization_id"] is None and role["rule_ids"]
    users = api.ok("GET", "/user", params={"role_id": role_id(api, "Root")})["data"]
    me = api.ok("GET", f"/user/{users[0]['id']}")
    assert me["username"] == "root"
    roles_of_root = api.ok("GET", "/role", params={"user_id": me["id"]})["data"]
    assert [r["name"] for r in roles_of_root] == ["Root"]


def test_node_refresh(world: World) -> None:
    body = world.api.ok("POST", "/token/node", json={"api_key": world.key_b}, token="")
    fresh = world.api.ok("POST", "/token/refresh", token=body["refresh_token"])
    nodes = world.api.ok("GET", "/node", token=fresh["access_token"])
    assert nodes["total"] == 2
