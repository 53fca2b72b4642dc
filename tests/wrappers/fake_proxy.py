"""A node proxy stand-in on 127.0.0.1: routes by (method, path), records every request.

Shared by the wrapper, algorithm-api and contract tests; the first matching route answers.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]


Handler = Callable[[Request], "tuple[int, Any]"]


@dataclass
class FakeProxy:
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def on(self, method: str, pattern: str, answer: Any) -> None:
        handler = answer if callable(answer) else (lambda _r, a=answer: (200, a))
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def start(self) -> FakeProxy:
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = Request(self.command, parts.path, dict(parse_qsl(parts.query)),
                                  json.loads(raw) if raw else None, dict(self.headers))
                proxy.requests.append(request)
                status, answer = 404, {"code": "not_found", "message": f"no {parts.path}"}
                for method, pattern, handler in proxy.routes:
                    if method == self.command and pattern.match(parts.path):
                        status, answer = handler(request)
                        break
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        args=(0.05,), daemon=True)
        self._thread.start()
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api"
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def seen(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]


def page(items: list[Any], has_next: bool = False) -> dict[str, Any]:
    """A list envelope: the first page, with a ``next`` link when ``has_next``."""
    links = {"first": "f", "self": "s", "last": "l"}
    if has_next:
        links["next"] = "n"
    return {"data": items, "links": links, "total": len(items), "page": 1, "per_page": 100}
