"""Fixtures for the server tests: a real app on a temp database, driven by falcon's client.

``api`` is logged in as root; ``world`` builds two organizations with nodes in one
collaboration, the shape most tests need.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from falcon import testing

from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST
from v6lib.server.db.engine import make_engine

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.postgres import drop_database, fresh_postgres_url  # noqa: E402

ROOT_PASSWORD = "Root-pass-1234!"
PASSWORD = "Secret-pass-99!"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL database (marked)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.sqlite'}"
        return
    url = fresh_postgres_url()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server.sqlite'}"


class Api:
    """A JSON client for the app with an optional bearer token."""

    def __init__(self, app: Any, token: str | None = None, prefix: str = "/api") -> None:
        self.app = app
        self.client = testing.TestClient(app)
        self.token = token
        self.prefix = prefix

    def as_(self, token: str | None) -> Api:
        return Api(self.app, token, self.prefix)

    def call(self, method: str, path: str, *, json: Any = None, params: Any = None,
             token: str | None = None, headers: dict[str, str] | None = None,
             body: bytes | None = None) -> testing.Result:
        all_headers = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer:
            all_headers["Authorization"] = f"Bearer {bearer}"
        kwargs: dict[str, Any] = {"headers": all_headers, "params": params}
        if body is not None:
            kwargs["body"] = body
        elif json is not None:
            kwargs["json"] = json
        return self.client.simulate_request(method, f"{self.prefix}{path}", **kwargs)

    def get(self, path: str, **kw: Any) -> testing.Result:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> testing.Result:
        return self.call("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> testing.Result:
        return self.call("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> testing.Result:
        return self.call("DELETE", path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call and assert the status; return the JSON body."""
        result = self.call(method, path, **kw)
        assert result.status_code == status, (result.status_code, result.text)
        return result.json

    def login(self, username: str, password: str = PASSWORD) -> str:
        body = self.ok("POST", "/token/user", json={"username": username,
                                                    "password": password}, token="")
        return str(body["access_token"])

    def node_login(self, api_key: str) -> str:
        body = self.ok("POST", "/token/node", json={"api_key": api_key}, token="")
        return str(body["access_token"])


def build_app(url: str, **kwargs: Any) -> Any:
    config = ServerConfig(uri=url, root_password=ROOT_PASSWORD, jwt_secret_key="x" * 40,
                          **kwargs.pop("config", {}))
    engine = make_engine(url)
    return create_app(config, engine=engine, kdf_cost=TEST_COST,
                      announce=lambda result, name: None, **kwargs)


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Any]:
    application = build_app(sqlite_url)
    yield application
    application.v6_state.hub.stop()
    application.v6_state.engine.dispose()


@pytest.fixture
def db_app(db_url: str) -> Iterator[Any]:
    """Like ``app`` but on every database backend (PostgreSQL runs are marked)."""
    application = build_app(db_url)
    yield application
    application.v6_state.hub.stop()
    application.v6_state.engine.dispose()


@pytest.fixture
def db_world(db_app: Any) -> World:
    anonymous = Api(db_app)
    return make_world(anonymous.as_(anonymous.login("root", ROOT_PASSWORD)))


@pytest.fixture
def api(app: Any) -> Api:
    anonymous = Api(app)
    return anonymous.as_(anonymous.login("root", ROOT_PASSWORD))


def role_id(api: Api, name: str) -> int:
    roles = api.ok("GET", "/role", params={"name": name, "per_page": 100})["data"]
    return next(r["id"] for r in roles if r["name"] == name and r["organization_id"] is None)


def root_org(api: Api) -> int:
    """The bootstrap organization root belongs to."""
    orgs = api.ok("GET", "/organization", params={"name": "root", "per_page": 100})["data"]
    return int(next(o["id"] for o in orgs if o["name"] == "root"))


@dataclass
class World:
    """Organizations A, B (and C outside), one collaboration of A and B with nodes.

    Root's own organization is a member too (without a node), so root may start tasks.
    """

    api: Api
    org_a: int
    org_b: int
    org_c: int
    collab: int
    node_a: int
    node_b: int
    key_a: str
    key_b: str
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, username: str, org: int, roles: list[str]) -> str:
        """Create a user with default roles and return its access token."""
        ids = [role_id(self.api, r) for r in roles]
        self.api.ok("POST", "/user", 201, json={"username": username, "password": PASSWORD,
                                                "organization_id": org, "role_ids": ids})
        return self.api.login(username)

    def node_token(self, which: str = "a") -> str:
        return self.api.node_login(self.key_a if which == "a" else self.key_b)

    def task(self, token: str | None = None, orgs: list[int] | None = None,
             **extra: Any) -> dict[str, Any]:
        orgs = orgs or [self.org_a, self.org_b]
        body = {"collaboration_id": self.collab, "name": "t", "image": "img:1",
                "organizations": [{"id": o, "input": "e30="} for o in orgs], **extra}
        return dict(self.api.ok("POST", "/task", 201, json=body, token=token))


def make_world(api: Api) -> World:
    orgs = [api.ok("POST", "/organization", 201, json={"name": n})["id"]
            for n in ("org-a", "org-b", "org-c")]
    collab = api.ok("POST", "/collaboration", 201,
                    json={"name": "collab", "organization_ids": orgs[:2]})["id"]
    # root starts most tasks here; a task's initiating organization must be a member
    api.ok("POST", f"/collaboration/{collab}/organization", json={"id": root_org(api)})
    na = api.ok("POST", "/node", 201, json={"collaboration_id": collab,
                                            "organization_id": orgs[0]})
    nb = api.ok("POST", "/node", 201, json={"collaboration_id": collab,
                                            "organization_id": orgs[1]})
    return World(api, orgs[0], orgs[1], orgs[2], collab, na["id"], nb["id"],
                 na["api_key"], nb["api_key"])


@pytest.fixture
def world(api: Api) -> World:
    return make_world(api)
