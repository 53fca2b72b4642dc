"""Scenario 8 through a real node process: a big output goes to the server as a raw upload.

The node keeps the output as a file next to its journal (not as a journal BLOB), PUTs it
streamed, then reports the status; the researcher's client fetches it raw.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.node.test_daemon_integration import Federation, one_node_federation
from v6lib.schemas.run import INLINE_RESULT_BYTES

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    yield from one_node_federation(tmp_path_factory, "Big")


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
