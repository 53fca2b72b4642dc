"""Fixtures for client tests: a fake server behind a requests adapter, and a logged-in client.

The fake records every request exactly as sent and answers by (method, path regex), so
tests assert on the wire format without a real server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from v6lib.client import Client

BASE = "http://server.test:7601/api"


Handler = Callable[["Seen"], "tuple[int, Any] | Any"]


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]
    timeout: Any = None


@dataclass
class FakeServer:
    """Routes ``(METHOD, path regex)`` to handlers; unknown routes answer 404."""

    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def on(self, method: str, pattern: str, handler: Handler | Any) -> None:
        fn = handler if callable(handler) else (lambda _req, value=handler: value)
        self.routes.insert(0, (method, re.compile(f"^{pattern}$"), fn))

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("http://server.test", _Adapter(self))
        return session

    def requests_to(self, path: str, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.path == path and (method is None or s.method == method)]


class _Adapter(BaseAdapter):
    def __init__(self, server: FakeServer) -> None:
        super().__init__()
        self.server = server

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        parts = urlsplit(request.url or "")
        path = parts.path.removeprefix("/api")
        body = json.loads(request.body) if request.body else None
        seen = Seen(request.method or "", path, dict(parse_qsl(parts.query)), body,
                    dict(request.headers), timeout)
        self.server.seen.append(seen)
        status, answer = 404, {"code": "not_found", "message": f"no route {path}"}
        for method, pattern, handler in self.server.routes:
            if method == seen.method and pattern.match(path):
                out = handler(seen)
                status, answer = out if isinstance(out, tuple) else (200, out)
                break
        response = requests.Response()
        response.status_code = status
        response.reason = "fake"
        response.url = request.url or ""
        response.request = request
        response._content = b"" if answer is None else json.dumps(answer).encode()
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self) -> None:
        pass


def page(items: list[Any], page_no: int = 1, per_page: int = 10, total: int | None = None,
         has_next: bool = False) -> dict[str, Any]:
    """A list envelope as the server sends it."""
    links = {"first": "f", "self": "s", "last": "l"}
    if has_next:
        links["next"] = "n"
    return {"data": items, "links": links, "total": total if total is not None else len(items),
            "page": page_no, "per_page": per_page}


@pytest.fixture
def make_page() -> Callable[..., dict[str, Any]]:
    return page


@pytest.fixture
def server() -> FakeServer:
    fake = FakeServer()
    fake.on("POST", "/token/user", {"access_token": "access-1", "refresh_token": "refresh-1",
                                    "user_url": "/api/user/7", "refresh_url": "/api/token/refresh"})
    fake.on("GET", "/user/7", {"id": 7, "username": "researcher", "organization_id": 2,
                               "role_ids": [], "rule_ids": []})
    fake.on("GET", "/organization/2", {"id": 2, "name": "Org Two", "public_key": None})
    return fake


@pytest.fixture
def client(server: FakeServer) -> Client:
    c = Client("http://server.test", 7601, "/api", session=server.session())
    assert c.base_url == BASE
    c.authenticate("researcher", "secret")
    server.seen.clear()
    return c
