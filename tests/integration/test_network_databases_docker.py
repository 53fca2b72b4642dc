"""End to end: a real server, a node daemon configured from a YAML file like the one in
docs/node-operator.md (a PostgreSQL database with its password, a whitelist), and a
researcher's task that requests the database: the run reads it through its relay, without
the password. (That a run reaches nothing it did not request is tested on the runtime in
tests/node/runtime/test_docker_network_databases.py.)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docker_support import cleanup_node, docker_client
from tests.live_server import serve_sqlite_server
from tests.network_services import (
    PEOPLE,
    netdb_images,
    people_age_sum,
    people_database,
)
from v6lib.client import Client
from v6lib.config import load_node_config
from v6lib.node.daemon import Node, make_runtime
from v6lib.node.options import NodeOptions

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.integration,
              pytest.mark.slow]
__all__ = ["docker_client", "netdb_images"]

ROOT_PASSWORD = "Root-password-1"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD)


@pytest.fixture(scope="module")
def site(live_server: int, docker_client: Any, netdb_images: tuple[str, str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = Client("http://127.0.0.1", live_server, "/api")
    root.authenticate("root", ROOT_PASSWORD)
    suffix = uuid.uuid4().hex[:6]
    org = root.organization.create(name=f"Net org {suffix}")["id"]
    collab = root.collaboration.create(f"net {suffix}", [org])["id"]
    root_role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Root"]
    root.user.create(username=f"net-admin-{suffix}", password=ROOT_PASSWORD,
                     organization=org, roles=root_role)
    admin = Client("http://127.0.0.1", live_server, "/api")
    admin.authenticate(f"net-admin-{suffix}", ROOT_PASSWORD)
    name = f"net-{suffix}"
    base: Path = tmp_path_factory.mktemp(name)
    with people_database() as url:
        config = base / "node.yaml"
        config.write_text(yaml.safe_dump({
            "name": name,
            "api_key": root.node.create(collaboration=collab, organization=org, name=name),
            "server_url": "http://127.0.0.1", "port": live_server, "task_dir": str(base),
            "databases": {"people": {"uri": url, "type": "sql",
                                     "query": "SELECT id, age FROM people"}},
            "whitelist": {"domains": ["example.org"]},
            "policies": {"allowed_images": [netdb_images[1]]},
            "event_timeout": 1.0,  # a short long-poll: the node stops quickly
        }))
        options = NodeOptions.from_config(load_node_config(config))
        node = Node(options, runtime=make_runtime(options))
        node.start()  # verifies the runtime: the isolation check proves the relay
        thread = threading.Thread(target=node.run_forever, daemon=True, name=name)
        thread.start()
        try:
            yield {"client": admin, "collaboration": collab, "org": org, "url": url,
                   "image": netdb_images[1]}
        finally:
            node.stop()
            thread.join(10)
            node.close()
            assert cleanup_node(docker_client, node.runtime) == []


def test_a_task_reads_the_requested_network_database(site: dict[str, Any]) -> None:
    client = site["client"]
    task = client.task.create(collaboration=site["collaboration"], organizations=[site["org"]],
                              name="people", image=site["image"], databases=["people"],
                              input_={"method": "summarize"})
    (result,) = client.wait_for_results(task["id"], timeout=180)
    assert (result["rows"], result["age_sum"]) == (PEOPLE, people_age_sum())
    assert result["env"]["PEOPLE_DATABASE_URI"].startswith(
        "postgresql+psycopg://v6test@127.0.0.1:16001/")
    assert ":v6test@" not in str(result)
