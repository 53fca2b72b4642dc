"""The node's server connection: URL building and automatic re-authentication."""

from __future__ import annotations

import pytest

from v6lib.errors import AuthenticationError, PermissionDenied, ValidationError
from v6lib.node.server_link import ServerLink, server_base_url

from .fakes import FakeServer, FakeTransport


@pytest.mark.parametrize(("url", "port", "path", "expected"), [
    ("http://127.0.0.1", 7601, "/api", "http://127.0.0.1:7601/api"),
    ("https://v6.example.org:443", 7601, "/api", "https://v6.example.org:443/api"),
    ("v6.example.org", None, "", "http://v6.example.org"),
    ("http://h/prefix/", 80, "api", "http://h:80/prefix/api"),
])
def test_server_base_url(url: str, port: int | None, path: str, expected: str) -> None:
    assert server_base_url(url, port, path) == expected


def test_login_and_relogin_after_tokens_expire() -> None:
    server = FakeServer()
    node_id = server.add_node(2, api_key="k")
    link = ServerLink(FakeTransport(server), "k")
    assert link.login() == node_id
    server.valid_tokens.clear()  # access and refresh tokens expired
    assert link.node(node_id)["organization_id"] == 2
    assert server.logins == 2


def test_bad_api_key_is_an_authentication_error() -> None:
    server = FakeServer()
    server.add_node(2, api_key="k")
    with pytest.raises(AuthenticationError, match="invalid api key"):
        ServerLink(FakeTransport(server), "wrong").login()


def test_claim_run_posts_once_and_answers_run_task_and_token() -> None:
    server = FakeServer()
    server.add_node(1, api_key="k1")
    node_id = server.add_node(2, api_key="k2")
    task = server.create_task("img:1", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    link = ServerLink(FakeTransport(server), "k2")
    link.login()
    claim = link.claim_run(run["id"])
    assert server.calls == [("POST", f"/run/{run['id']}/claim")]
    assert claim.run.status == "initializing" and claim.run.node_id == node_id
    assert claim.task.id == task["id"]
    assert claim.container_token == f"container-{run['id']}"
    other = ServerLink(FakeTransport(server), "k1")
    other.login()
    with pytest.raises(PermissionDenied, match="another node"):
        other.claim_run(run["id"])


def test_a_claim_reply_of_another_shape_is_refused_naming_the_field() -> None:
    server = FakeServer()
    server.add_node(2, api_key="k2")
    task = server.create_task("img:1", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    del server.tasks[task["id"]]["image"]  # the server's reply lost a field
    link = ServerLink(FakeTransport(server), "k2")
    link.login()
    with pytest.raises(ValidationError, match=r"does not match RunClaimOut: task\.image"):
        link.claim_run(run["id"])


def test_run_and_event_replies_are_read_through_the_server_models() -> None:
    server = FakeServer()
    server.add_node(2, api_key="k2")
    task = server.create_task("img:1", {2: b"{}"})
    run = server.run_of(task["id"], 2)
    link = ServerLink(FakeTransport(server), "k2")
    link.login()
    assert link.run(run["id"])["status"] == "pending"
    server.runs[run["id"]]["status"] = "no such status"
    with pytest.raises(ValidationError, match="does not match RunOut: status"):
        link.run(run["id"])
    with pytest.raises(ValidationError, match="does not match RunOut: status"):
        list(link.runs(task_id=task["id"]))
    server.events.append({"id": 99, "type": "run_exploded", "task_id": task["id"]})
    with pytest.raises(ValidationError, match=r"does not match EventsOut: events\.\d+\.type"):
        link.events(0, 0)
