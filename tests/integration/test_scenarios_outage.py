"""Scenario 2 (shortened): the node's link to the server is cut while a run finishes.

Three nodes (process runtime, in threads) reach the server only through a TCP relay that
the test cuts. During the cut a run finishes on every node, the researcher (who still
reaches the server) queues a second task, and the server itself is restarted with a new
token secret, so every token the nodes hold becomes worthless. Once the link is back,
without anyone touching the nodes, the finished results arrive, the queued task runs,
and the nodes have logged in again by themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import (
    SCENARIO_IMAGE,
    LiveServer,
    Relay,
    ThreadNode,
    make_federation,
    marker_lines,
    node_options,
    run_statuses,
    wait_statuses,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "server.sqlite").start()
    try:
        yield live
    finally:
        live.stop()


def test_results_and_queued_runs_survive_a_cut_link_and_a_server_restart(
        server: LiveServer, scenario_package: Path, tmp_path: Path) -> None:
    fed = make_federation(server, prefix="outage")
    relay = Relay(server.port)
    relay.restore()
    nodes = [ThreadNode(node_options(fed, i, tmp_path / f"node{i}", url=relay.url,
                                     scenario_package=scenario_package))
             for i in range(3)]
    try:
        marker = tmp_path / "during-cut"
        first = fed.root.task.create(
            collaboration=fed.collaboration, organizations=fed.org_ids, name="finishes in cut",
            image=SCENARIO_IMAGE, input_={"method": "sleep_echo",
                                          "kwargs": {"seconds": 5, "value": 1,
                                                     "marker": str(marker)}})
        wait_until(lambda: all(marker_lines(marker, org) for org in fed.org_ids), 30,
                   "the first task's algorithms to start")
        wait_statuses(fed.root, first["id"], {"active"}, timeout=15)
        tokens_before = [n.node.link.transport.token for n in nodes]

        cut_at = time.monotonic()
        relay.cut()
        server.stop()
        server.secret = "a-new-secret-after-the-restart-" + "x" * 20
        server.start()
        root = fed.login()  # the researcher logs in again and still reaches the server
        queued = root.task.create(
            collaboration=fed.collaboration, organizations=fed.org_ids, name="queued in cut",
            image=SCENARIO_IMAGE, input_={"method": "sleep_echo",
                                          "kwargs": {"seconds": 0, "value": 2}})
        wait_until(lambda: all(marker_lines(marker, org) == ["started", "finished"]
                               for org in fed.org_ids), 30,
                   "the first task's algorithms to finish during the cut")
        time.sleep(max(0.0, 12 - (time.monotonic() - cut_at)))  # a cut of 12 s at least
        assert run_statuses(root, first["id"]) == ["active"] * 3
        assert run_statuses(root, queued["id"]) == ["pending"] * 3

        relay.restore()
        back_at = time.monotonic()
        assert root.wait_for_results(first["id"], timeout=40) == [{"echo": 1, "slept": 5}] * 3
        assert [r["echo"] for r in root.wait_for_results(queued["id"], timeout=40)] == [2] * 3
        assert time.monotonic() - back_at < 40
        for org in fed.org_ids:
            assert marker_lines(marker, org) == ["started", "finished"], org
        tokens_after = [n.node.link.transport.token for n in nodes]
        assert all(a != b for a, b in zip(tokens_before, tokens_after, strict=True))
    finally:
        for node in nodes:
            node.stop()
        relay.cut()


def test_a_researchers_wait_survives_a_server_restart(server: LiveServer, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    """The wait keeps going through a server outage, says so once, and returns the
    results once the server is back (it raised ServerUnavailableError before)."""
    import base64
    import threading

    from v6lib import serialization

    fed = make_federation(server, 1, prefix="waits")
    task = fed.root.task.create(collaboration=fed.collaboration, organizations=fed.org_ids,
                                name="waited for", image=SCENARIO_IMAGE,
                                input_={"method": "echo"})
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(fed.root.wait_for_results(task["id"], timeout=90))
        except Exception as exc:  # the assertion below shows it
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    with caplog.at_level("WARNING", logger="v6lib.client"):
        waiter.start()
        time.sleep(1)
        server.stop()  # the researcher's wait now meets a closed port
        time.sleep(4)
        server.start()
        from v6lib.client.transport import Transport
        from v6lib.node.server_link import ServerLink  # the node finishes the run now

        link = ServerLink(Transport(server.url), fed.api_keys[0])
        link.login()
        [run] = fed.root.run.from_task(task["id"])
        for status in ("initializing", "active"):
            link.patch_run(run["id"], {"status": status})
        link.patch_run(run["id"], {"status": "completed", "result": base64.b64encode(
            serialization.dumps({"answer": 42})).decode()})
        waiter.join(60)
    assert outcome == [[{"answer": 42}]]
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # told once, not at every retry
    assert any("back" in r.getMessage() for r in caplog.records)
