"""A real server on 127.0.0.1 in a thread, for tests that drive it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST
from v6lib.testing import serve_app

__all__ = ["serve_app", "serve_sqlite_server"]


def serve_sqlite_server(tmp_path_factory: pytest.TempPathFactory,
                        root_password: str, **settings: Any) -> Iterator[int]:
    """Serve a fresh server on a SQLite file (with ``settings`` of ServerConfig); yields
    its port, cleans up afterwards."""
    db = tmp_path_factory.mktemp("server") / "server.sqlite"
    config = ServerConfig(uri=f"sqlite:///{db}", root_password=root_password,
                          jwt_secret_key="k" * 40, **settings)
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
    try:
        with serve_app(app) as port:
            yield port
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()
