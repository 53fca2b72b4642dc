"""The attack suite: each finding performed for real against the real parts.

Every test first performs the attack (an outside probe's finding, an algorithm in a
container that replaces its output, a process that calls the node's proxy with someone
else's token, a server administrator who replays a sealed input), then asserts that it
fails, what the attacker sees, and that the node carries on. Fixtures come from the
end-to-end tests (a real server in a thread, process-runtime nodes, the scenario
algorithm, the Docker engine) and from here:

``live`` starts the real app (``create_app``) behind a real HTTP server in a thread, on a
SQLite file or (for races only PostgreSQL shows) on a fresh PostgreSQL database. The
setup (organizations, nodes, users) goes through falcon's in-process client for speed;
the attack itself always goes over sockets. ``Live.session(source=...)`` binds the
client socket to another loopback address (127.0.0.2, ...), so the server sees a
different peer address, as it would for another machine. ``sealed_site`` makes an
encrypted collaboration with one node's options, for the node's attack tests.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.integration.conftest import (
    Federation,
    LiveServer,
    ThreadNode,
    docker_client,
    live_server,
    make_federation,
    node_options,
    scenario_image,
    scenario_package,
)
from tests.live_server import serve_app
from tests.postgres import drop_database, fresh_postgres_url
from tests.server.conftest import ROOT_PASSWORD, Api, World, build_app, make_world
from v6lib.crypto import RSAPrivateKey, generate_private_key, public_key_b64, save_private_key
from v6lib.node.options import NodeOptions

__all__ = ["Live", "LiveFactory", "NodeSite", "docker_client", "live_server", "scenario_image",
           "scenario_package", "sealed_site"]


class _SourceAddressAdapter(HTTPAdapter):
    """Opens connections from a chosen local address."""

    def __init__(self, source: str) -> None:
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Live:
    """A running server: its app (for setup and inspection) and its URL."""

    app: Any
    base: str

    @property
    def api(self) -> Api:
        """In-process client for setup, logged in as root."""
        anonymous = Api(self.app)
        return anonymous.as_(anonymous.login("root", ROOT_PASSWORD))

    def world(self) -> World:
        return make_world(self.api)

    def session(self, source: str | None = None) -> requests.Session:
        """An HTTP session; ``source`` is the local (client) address to connect from."""
        session = requests.Session()
        if source is not None:
            adapter = _SourceAddressAdapter(source)
            session.mount("http://", adapter)
        return session

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def post(self, path: str, *, source: str | None = None, token: str | None = None,
             **kwargs: Any) -> requests.Response:
        return self.request("POST", path, source=source, token=token, **kwargs)

    def get(self, path: str, *, source: str | None = None, token: str | None = None,
            **kwargs: Any) -> requests.Response:
        return self.request("GET", path, source=source, token=token, **kwargs)

    def request(self, method: str, path: str, *, source: str | None = None,
                token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 30)
        with self.session(source) as session:
            return session.request(method, self.url(path), headers=headers, **kwargs)


LiveFactory = Callable[..., Live]


@dataclass
class NodeSite:
    """One organization's node in a federation of its own, under attack."""

    fed: Federation
    node: ThreadNode

    @property
    def org(self) -> int:
        return self.fed.org_ids[0]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveFactory]:
    """Start servers: ``live(config={...}, threads=8, database="sqlite"|"postgres")``."""
    numbers = itertools.count()
    with contextlib.ExitStack() as stack:

        def start(*, config: dict[str, Any] | None = None, threads: int | None = None,
                  database: str = "sqlite", **kwargs: Any) -> Live:
            if database == "postgres":
                url = fresh_postgres_url()
                stack.callback(drop_database, url)
            else:
                url = f"sqlite:///{tmp_path / f'server-{next(numbers)}.sqlite'}"
            app = build_app(url, config=dict(config or {}), **kwargs)
            stack.callback(app.v6_state.engine.dispose)
            stack.callback(app.v6_state.hub.stop)
            port = stack.enter_context(serve_app(app, threads=threads))
            return Live(app=app, base=f"http://127.0.0.1:{port}/api")

        yield start


def sealed_site(server: LiveServer, scenario_package: Path, tmp: Path, **options: Any
                ) -> tuple[Federation, NodeOptions, RSAPrivateKey]:
    """An encrypted collaboration of one organization, the options of its node (process
    runtime unless ``options`` say otherwise) and the organization's private key."""
    fed = make_federation(server, 1, encrypted=True, prefix="sealed")
    key = generate_private_key(2048)
    save_private_key(key, tmp / "key.pem")
    fed.root.organization.update(fed.org_ids[0], public_key=public_key_b64(key))
    return fed, node_options(fed, 0, tmp / "node", scenario_package=scenario_package,
                             encryption_enabled=True, private_key_path=tmp / "key.pem",
                             **options), key
