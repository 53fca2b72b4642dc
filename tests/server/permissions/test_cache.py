"""Cached principals end the moment what they were built from changes, in every worker.

Two apps on one database stand for two gunicorn workers: an administrator changes roles,
rules or memberships through one, the user's next request goes to the other, which has
the user's principal cached from before. The module shares one world; each test has its
own users, and the one that takes organization B out of the collaboration runs last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.conftest import ROOT_PASSWORD, Api, World, build_app, make_world
from tests.server.test_performance import count_queries


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cache') / 'server.sqlite'}"
    first, second = build_app(url), build_app(url)
    yield first, second
    for app in (first, second):
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


@pytest.fixture(scope="module")
def world(workers: tuple[Any, Any]) -> World:
    anonymous = Api(workers[0])
    return make_world(anonymous.as_(anonymous.login("root", ROOT_PASSWORD)))


def _rule_id(api: Api, name: str, scope: str, operation: str) -> int:
    found = api.ok("GET", "/rule", params={"name": name, "scope": scope,
                                           "operation": operation})["data"]
    return int(found[0]["id"])


def test_a_revoked_role_ends_at_once_in_the_other_worker(
        workers: tuple[Any, Any], world: World) -> None:
    other = Api(workers[1])
    token = world.user("cached", world.org_a, ["Researcher"])
    user_id = other.ok("GET", "/user", token=token, params={"username": "cached"})["data"][0]["id"]
    world.task(orgs=[world.org_a])
    assert other.ok("GET", "/task", token=token)["total"] >= 1  # now cached in worker 2
    world.api.ok("PATCH", f"/user/{user_id}", json={"role_ids": []})
    assert other.ok("GET", "/task", token=token)["total"] == 0
    assert other.call("POST", "/task", token=token, json={
        "collaboration_id": world.collab, "name": "t", "image": "img:1",
        "organizations": [{"id": world.org_a, "input": "e30="}]}).status_code == 403


def test_a_rule_taken_from_a_role_ends_at_once(workers: tuple[Any, Any], world: World) -> None:
    other = Api(workers[1])
    api = world.api
    view = _rule_id(api, "task", "organization", "view")
    role = api.ok("POST", "/role", 201, json={"name": "watcher", "organization_id": world.org_a,
                                              "rule_ids": [view]})["id"]
    api.ok("POST", "/user", 201, json={"username": "w", "password": "Secret-pass-99!",
                                       "organization_id": world.org_a, "role_ids": [role]})
    token = api.login("w")
    world.task(orgs=[world.org_a])
    assert other.ok("GET", "/task", token=token)["total"] >= 1
    api.ok("PATCH", f"/role/{role}", json={"rule_ids": []})
    assert other.ok("GET", "/task", token=token)["total"] == 0


def test_a_cached_principal_saves_the_permission_statements(
        workers: tuple[Any, Any], world: World) -> None:
    """Task creation and a list page: a ceiling that loading rules per request would break."""
    app = workers[0]
    token = world.user("counted", world.org_a, ["Researcher"])
    world.task(token=token)  # the principal is cached from here on
    with count_queries(app.v6_state.engine) as created:
        world.task(token=token)
    with count_queries(app.v6_state.engine) as listed:
        world.api.ok("GET", "/task", token=token)
    # BEGIN, user, epoch; collaboration (+members), nodes, uid; task, 2 runs, job id,
    # 2 events
    assert len(created) <= 13, created
    # BEGIN, user, epoch, count, page
    assert len(listed) <= 5, listed
    assert not [s for s in created + listed if "role_rule" in s or "user_role" in s]



def test_leaving_a_collaboration_ends_its_view_at_once(
        workers: tuple[Any, Any], world: World) -> None:
    other = Api(workers[1])
    token = world.user("member", world.org_b, ["Collaboration Admin"])
    assert other.ok("GET", "/collaboration", token=token)["total"] == 1
    node = Api(workers[1]).node_login(world.key_b)
    assert other.ok("GET", "/organization", token=node)["total"] >= 2
    world.api.ok("DELETE", f"/collaboration/{world.collab}/organization",
                 json={"id": world.org_b})
    assert other.ok("GET", "/collaboration", token=token)["total"] == 0
    # its node goes with it
    assert other.call("GET", "/task", token=node).status_code == 401
