"""Every sub-client method sends exactly the request the HTTP API contract describes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from v6lib import errors
from v6lib.client import Client

# (call, method, path, body) - body None means "no JSON body"
CASES: list[tuple[Callable[[Client], Any], str, str, Any]] = [
    (lambda c: c.organization.get(4), "GET", "/organization/4", None),
    (lambda c: c.organization.create(name="The Shire", address1="501 Buckland Road",
                                     country="New Zealand", public_key="cGVt"),
     "POST", "/organization",
     {"name": "The Shire", "address1": "501 Buckland Road", "country": "New Zealand",
      "public_key": "cGVt"}),
    (lambda c: c.organization.update(4, domain="shire.org"), "PATCH", "/organization/4",
     {"domain": "shire.org"}),
    (lambda c: c.collaboration.create("c1", [2, 3], encrypted=True), "POST", "/collaboration",
     {"name": "c1", "encrypted": True, "organization_ids": [2, 3]}),
    (lambda c: c.collaboration.update(1, organizations=[{"id": 2}]), "PATCH",
     "/collaboration/1", {"organization_ids": [2]}),
    (lambda c: c.collaboration.delete(1), "DELETE", "/collaboration/1", None),
    (lambda c: c.collaboration.add_organization(1, 4), "POST", "/collaboration/1/organization",
     {"id": 4}),
    (lambda c: c.collaboration.remove_organization(1, 4), "DELETE",
     "/collaboration/1/organization", {"id": 4}),
    (lambda c: c.study.create("s", collaboration=1, organizations=[2]), "POST", "/study",
     {"name": "s", "collaboration_id": 1, "organization_ids": [2]}),
    (lambda c: c.study.update(3, name="t"), "PATCH", "/study/3", {"name": "t"}),
    (lambda c: c.study.delete(3), "DELETE", "/study/3", None),
    (lambda c: c.node.create(collaboration=1, organization=2, name="n"), "POST", "/node",
     {"collaboration_id": 1, "organization_id": 2, "name": "n"}),
    (lambda c: c.node.update(5, name="m"), "PATCH", "/node/5", {"name": "m"}),
    (lambda c: c.node.delete(5), "DELETE", "/node/5", None),
    (lambda c: c.node.reset_api_key(5), "POST", "/node/5/api_key", None),
    (lambda c: c.user.create(username="bob", password="pw", organization=2, roles=[3]),
     "POST", "/user",
     {"username": "bob", "password": "pw", "organization_id": 2, "role_ids": [3],
      "rule_ids": []}),
    (lambda c: c.user.update(8, firstname="Bob", roles=[]), "PATCH", "/user/8",
     {"firstname": "Bob", "role_ids": []}),
    (lambda c: c.user.delete(8), "DELETE", "/user/8", None),
    (lambda c: c.user.change_password("old", "new"), "POST", "/password/change",
     {"current_password": "old", "new_password": "new"}),
    (lambda c: c.role.create("r", rules=[1, 2], description="d"), "POST", "/role",
     {"name": "r", "description": "d", "rule_ids": [1, 2]}),
    (lambda c: c.role.update(3, rules=[1]), "PATCH", "/role/3", {"rule_ids": [1]}),
    (lambda c: c.role.delete(3), "DELETE", "/role/3", None),
    (lambda c: c.rule.get(9), "GET", "/rule/9", None),
    (lambda c: c.task.get(6), "GET", "/task/6", None),
    (lambda c: c.task.delete(6), "DELETE", "/task/6", None),
    (lambda c: c.task.kill(6), "POST", "/task/6/kill", None),
    (lambda c: c.run.get(7), "GET", "/run/7", None),
]


@pytest.mark.parametrize(("call", "method", "path", "body"), CASES,
                         ids=[f"{m} {p}" for _, m, p, _ in CASES])
def test_exact_request(client: Client, server: Any, call: Callable[[Client], Any],
                       method: str, path: str, body: Any) -> None:
    server.on(method, path, {"id": 1, "api_key": "k", "msg": "ok"})
    call(client)
    seen = [s for s in server.seen if s.path == path]
    assert len(seen) == 1
    assert seen[0].method == method
    assert seen[0].body == body
    assert seen[0].headers["Authorization"] == "Bearer access-1"


def test_node_create_returns_the_api_key(client: Client, server: Any) -> None:
    server.on("POST", "/node", {"id": 4, "name": "n", "api_key": "secret-key"})
    assert client.node.create(collaboration=1, organization=2) == "secret-key"
    assert client.node.create(collaboration=1, details=True)["id"] == 4
    assert server.seen[-1].body == {"collaboration_id": 1}


def test_list_passes_filters_with_aliases_and_paging(client: Client, server: Any,
                                                     make_page: Any) -> None:
    server.on("GET", "/run", make_page([{"id": 1}]))
    body = client.run.list(task=3, organization_id=2, page=2, per_page=5)
    assert body["data"] == [{"id": 1}]
    assert server.seen[-1].params == {"task_id": "3", "organization_id": "2", "page": "2",
                                      "per_page": "5"}


def test_list_all_pages_follows_next_links(client: Client, server: Any, make_page: Any) -> None:
    def pages(req: Any) -> Any:
        number = int(req.params["page"])
        items = [{"id": number * 10 + i, "name": f"o{number}{i}"} for i in range(2)]
        return make_page(items, page_no=number, has_next=number < 3)

    server.on("GET", "/organization", pages)
    items = client.organization.list(all_pages=True, fields=["id"])
    assert items == [{"id": n} for n in (10, 11, 20, 21, 30, 31)]
    assert [s.params["page"] for s in server.seen] == ["1", "2", "3"]
    assert {s.params["per_page"] for s in server.seen} == {"1000"}


def test_list_fields_projects_one_page(client: Client, server: Any, make_page: Any) -> None:
    server.on("GET", "/collaboration", make_page([{"id": 1, "name": "c", "encrypted": False}]))
    body = client.collaboration.list(fields=["id", "name"])
    assert body["data"] == [{"id": 1, "name": "c"}]
    assert body["total"] == 1


def test_page_and_all_pages_conflict(client: Client) -> None:
    with pytest.raises(errors.ValidationError, match="all_pages"):
        client.task.list(page=2, all_pages=True)


def test_bad_ids_are_refused_before_sending(client: Client, server: Any) -> None:
    with pytest.raises(errors.ValidationError, match="integer ids"):
        client.collaboration.create("c", ["two"])  # type: ignore[list-item]
    with pytest.raises(errors.ValidationError, match="ids are integers"):
        client.organization.get("4")  # type: ignore[arg-type]
    assert server.seen == []


def test_update_without_fields_is_refused(client: Client, server: Any) -> None:
    with pytest.raises(errors.ValidationError, match="nothing to update"):
        client.role.update(3)
    assert server.seen == []


def test_server_error_message_reaches_the_caller(client: Client, server: Any) -> None:
    server.on("POST", "/collaboration",
              (409, {"code": "conflict", "message": "collaboration 'c' already exists"}))
    with pytest.raises(errors.ConflictError, match="already exists"):
        client.collaboration.create("c", [1])


RECOVERY = [
    (lambda c: c.user.recover_password(username="ann"), "/recover/lost", {"username": "ann"}),
    (lambda c: c.user.reset_password("tok", "New-pass-1!"), "/recover/reset",
     {"reset_token": "tok", "password": "New-pass-1!"}),
    (lambda c: c.user.recover_two_factor(email="a@b.test"), "/recover/2fa/lost",
     {"email": "a@b.test"}),
    (lambda c: c.user.reset_two_factor("tok", "pw"), "/recover/2fa/reset",
     {"reset_token": "tok", "password": "pw"}),
]


@pytest.mark.parametrize(("call", "path", "body"), RECOVERY, ids=[p for _, p, _ in RECOVERY])
def test_recovery_calls_need_no_login(server: Any, call: Callable[[Client], Any], path: str,
                                      body: Any) -> None:
    anonymous = Client("http://server.test", 7601, "/api", session=server.session())
    server.on("POST", path, {"msg": "done"})
    assert call(anonymous) == "done"
    [seen] = server.requests_to(path, "POST")
    assert seen.body == body and "Authorization" not in seen.headers
