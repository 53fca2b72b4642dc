"""The node's server connection: URL building and automatic re-authentication."""

from __future__ import annotations

import pytest

from v6lib.errors import AuthenticationError
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
