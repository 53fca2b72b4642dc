"""A real server on 127.0.0.1 in a thread, for tests that drive it over HTTP."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        return


def serve_sqlite_server(tmp_path_factory: pytest.TempPathFactory,
                        root_password: str) -> Iterator[int]:
    """Serve a fresh server on a SQLite file; yields its port, cleans up afterwards."""
    db = tmp_path_factory.mktemp("server") / "server.sqlite"
    config = ServerConfig(uri=f"sqlite:///{db}", root_password=root_password,
                          jwt_secret_key="k" * 40)
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
    httpd = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer,
                        handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()
