"""Scenario 8 through a real node process: a big output goes to the server as a raw upload.

The node keeps the output as a file next to its journal (not as a journal BLOB), PUTs it
streamed, then reports the status; the researcher's client fetches it raw.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.live_server import serve_sqlite_server
from tests.node.test_daemon_integration import (
    RESEARCHER_PASSWORD,
    ROOT_PASSWORD,
    Federation,
    _node_config,
)
from v6lib.client import Client
from v6lib.schemas.run import INLINE_RESULT_BYTES

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    for port in serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD):
        root = Client("http://127.0.0.1", port, "/api")
        root.authenticate("root", ROOT_PASSWORD)
        org = root.organization.create(name="Big site")["id"]
        collab = root.collaboration.create("big results", [org])["id"]
        role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Researcher"]
        root.user.create(username="researcher", password=RESEARCHER_PASSWORD, organization=org,
                         roles=role, email="r@example.org")
        researcher = Client("http://127.0.0.1", port, "/api")
        researcher.authenticate("researcher", RESEARCHER_PASSWORD)
        workdir = tmp_path_factory.mktemp("big-node")
        api_key = root.node.create(collaboration=collab, organization=org, name="big-node")
        configs = {org: _node_config(workdir / "node.yaml", "a", api_key, port, workdir)}
        fed = Federation(port, researcher, [org], collab, configs, workdir)
        fed.start_node(org)
        try:
            yield fed
        finally:
            for proc in fed.processes.values():
                proc.send_signal(signal.SIGTERM)
            for proc in fed.processes.values():
                proc.wait(30)


def test_a_big_output_is_uploaded_raw_and_delivered(federation: Federation) -> None:
    org = federation.org_ids[0]
    value = "v" * (INLINE_RESULT_BYTES + 2 * 1024 * 1024)
    task = federation.researcher.task.create(
        collaboration=federation.collaboration, organizations=[org], name="big",
        image="v6-node-testalgo:latest", input_={"method": "echo", "kwargs": {"value": value}})
    try:
        results = federation.researcher.wait_for_results(task["id"], timeout=180)
    except Exception:
        print(federation.log_of(org)[-4000:])
        raise
    assert results == [{"echo": value}]
    run = federation.researcher.run.from_task(task["id"])[0]
    assert run["status"] == "completed"
    assert run["result"] is None and run["result_size"] > INLINE_RESULT_BYTES
    assert "bytes uploaded" in federation.log_of(org)
    waiting = federation.workdir / "task-a" / "node-results"
    assert waiting.is_dir() and not list(waiting.iterdir())
