"""The HTTP transport: error mapping, token refresh on 401 only, timeouts, pagination."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from v6lib import errors
from v6lib.client.transport import Transport


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[Any, ...]] = {}
    seen: list[tuple[str, str, str | None]] = []

    def log_message(self, *args: object) -> None:
        return

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        key = f"{self.command} {self.path}"
        if key == "GET /secure" and self.headers.get("Authorization") != "Bearer fresh":
            status, body, *extra = 401, {"code": "authentication_error",
                                         "message": "token expired"}
        else:
            status, body, *extra = self.routes.get(key, (404, {"code": "not_found",
                                                               "message": f"no route {key}"}))
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (extra[0] if extra else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.seen = []
    _Handler.routes = {
        "GET /secure": (200, {"ok": True}),
        "GET /plain-500": (500, "not json either"),
        "POST /conflict": (409, {"code": "conflict", "message": "run 3 is completed"}),
        "DELETE /empty": (204, None),
        "GET /items?page=1&per_page=2": (200, {"data": [1, 2], "links": {"next": "p2"}}),
        "GET /items?page=2&per_page=2": (200, {"data": [3], "links": {}}),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_error_body_becomes_the_matching_exception(server: str) -> None:
    transport = Transport(server)
    with pytest.raises(errors.ConflictError, match="run 3 is completed"):
        transport.post("conflict", json={})
    with pytest.raises(errors.NotFoundError, match="no route"):
        transport.get("nowhere")


def test_non_json_error_falls_back_to_status(server: str) -> None:
    with pytest.raises(errors.V6Error, match="500"):
        Transport(server).get("plain-500")


def test_refresh_happens_on_401_only_and_once(server: str) -> None:
    calls: list[int] = []

    def refresh() -> str:
        calls.append(1)
        return "fresh"

    transport = Transport(server, refresh=refresh)
    transport.token = "stale"
    assert transport.get("secure") == {"ok": True}
    assert transport.get("secure") == {"ok": True}
    assert len(calls) == 1
    assert [h for _, p, h in _Handler.seen if p == "/secure"] == [
        "Bearer stale", "Bearer fresh", "Bearer fresh"]


def test_failed_refresh_raises_authentication_error(server: str) -> None:
    transport = Transport(server, refresh=lambda: None)
    with pytest.raises(errors.AuthenticationError, match="token expired"):
        transport.get("secure")


def test_empty_body_is_none(server: str) -> None:
    assert Transport(server).delete("empty") is None


def test_iter_pages_follows_next_links(server: str) -> None:
    assert list(Transport(server).iter_pages("items", per_page=2)) == [1, 2, 3]


def test_unreachable_server_is_server_unavailable() -> None:
    with pytest.raises(errors.ServerUnavailableError, match="cannot reach"):
        Transport("http://127.0.0.1:9", timeout=2).get("health")


def test_retry_after_header_is_kept_when_the_body_does_not_say(server: str) -> None:
    _Handler.routes["GET /limited"] = (429, {"code": "rate_limited", "message": "slow down"},
                                       {"Retry-After": "7"})
    _Handler.routes["GET /busy"] = (503, None, {"Retry-After": "3"})
    _Handler.routes["GET /said"] = (503, {"code": "server_busy", "message": "busy",
                                          "details": {"retry_after_seconds": 5}},
                                    {"Retry-After": "9"})
    transport = Transport(server)
    with pytest.raises(errors.RateLimitedError) as limited:
        transport.get("/limited")
    assert limited.value.retry_after == 7
    with pytest.raises(errors.ServerUnavailableError) as busy:
        transport.get("/busy")
    assert busy.value.retry_after == 3
    with pytest.raises(errors.ServerBusyError) as said:
        transport.get("/said")
    assert said.value.retry_after == 5  # the body's value wins
