"""Gunicorn entry point: ``gunicorn v6lib.server.wsgi:app`` with ``V6_SERVER_CONFIG`` set."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_app", "load_config"]  # and the lazily built ``app``


def load_config() -> Any:
    """The server configuration from the file in ``V6_SERVER_CONFIG`` (defaults when
    unset)."""
    from v6lib.config import ServerConfig, load_server_config

    path = os.environ.get("V6_SERVER_CONFIG")
    return load_server_config(path) if path else ServerConfig()


def load_app(*, event_loop: bool = False, config: Any = None) -> Any:
    """Build the app from the file in ``V6_SERVER_CONFIG`` (or defaults when unset).

    ``event_loop``: the app runs behind ``asgi.LongPollFront``, whose held long-polls
    take no thread, so its long-poll gate is sized by ``max_waiting_long_polls``.
    """
    from v6lib.server.app import create_app

    config = load_config() if config is None else config
    migrate = os.environ.get("V6_SERVER_MIGRATED") != "1"
    return create_app(config, migrate=migrate, event_loop=event_loop)


def __getattr__(name: str) -> Any:
    # NOTE: built on first access, so importing this module never touches a database.
    if name == "app":
        value = load_app()
        globals()["app"] = value
        return value
    raise AttributeError(name)
