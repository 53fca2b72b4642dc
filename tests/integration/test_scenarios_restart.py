"""Scenario 1: a node SIGKILLed mid-run and started again loses nothing and repeats nothing.

Three real node daemons (``v6 node start``, process runtime) run a slow algorithm that
appends a line per start and per end to a file of its organization. One node is killed
while its algorithm runs and restarted at once (it takes over the still-running
process); another is killed and restarted only after its algorithm ended (it collects
the finished output). Every result arrives once and each algorithm ran once; after a
second kill and restart of every node nothing that completed or failed is executed again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import (
    SCENARIO_IMAGE,
    CliNode,
    LiveServer,
    cli_node_config,
    make_federation,
    marker_lines,
    run_statuses,
    wait_statuses,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _start_nodes(fed: object, tmp_path: Path, scenario_package: Path) -> list[CliNode]:
    nodes = []
    for index in range(3):
        config = cli_node_config(fed, index, tmp_path / f"node{index}",  # type: ignore[arg-type]
                                 scenario_package=scenario_package)
        nodes.append(CliNode(config, tmp_path / f"node{index}.yaml").start())
    return nodes


def test_sigkilled_node_delivers_each_result_once_and_never_reruns(
        live_server: LiveServer, scenario_package: Path, tmp_path: Path) -> None:
    fed = make_federation(live_server, prefix="restart")
    nodes = _start_nodes(fed, tmp_path, scenario_package)
    root = fed.root
    try:
        warm = root.task.create(collaboration=fed.collaboration, organizations=fed.org_ids,
                                name="warm-up", image=SCENARIO_IMAGE,
                                input_={"method": "sleep_echo",
                                        "kwargs": {"seconds": 0, "value": "up"}})
        assert [r["echo"] for r in root.wait_for_results(warm["id"], timeout=40)] == ["up"] * 3

        marker = tmp_path / "slow"
        task = root.task.create(collaboration=fed.collaboration, organizations=fed.org_ids,
                                name="slow", image=SCENARIO_IMAGE,
                                input_={"method": "sleep_echo",
                                        "kwargs": {"seconds": 8, "value": 7,
                                                   "marker": str(marker)}})
        wait_until(lambda: all(marker_lines(marker, org) for org in fed.org_ids), 30,
                   "the slow algorithm to start at every organization")
        wait_statuses(root, task["id"], {"active"}, timeout=15)

        nodes[0].kill()
        nodes[1].kill()
        nodes[0].start()  # its algorithm still runs: the new life must take it over
        wait_until(lambda: marker_lines(marker, fed.org_ids[1]) == ["started", "finished"],
                   20, "the algorithm of the killed node to end on its own")
        by_org = {r["organization_id"]: r["status"] for r in root.run.from_task(task["id"])}
        assert by_org[fed.org_ids[1]] == "active"  # nobody could report it yet
        nodes[1].start()  # its algorithm ended while it was dead: it must collect it

        results = root.wait_for_results(task["id"], timeout=45)
        assert results == [{"echo": 7, "slept": 8}] * 3
        for org in fed.org_ids:
            assert marker_lines(marker, org) == ["started", "finished"], org

        crash_marker = tmp_path / "crash"
        crashed = root.task.create(
            collaboration=fed.collaboration, organizations=fed.org_ids, name="one fails",
            image=SCENARIO_IMAGE, input_={"method": "crash_at", "kwargs": {
                "organization": fed.org_ids[2], "value": 0, "marker": str(crash_marker)}})
        outcomes = root.wait_for_results(crashed["id"], timeout=40, raise_on_failure=False)
        assert [o.status.value for o in outcomes] == ["completed", "completed", "failed"]

        for node in nodes:  # the second restart
            node.kill()
        for node in nodes:
            node.start()
        again = root.task.create(collaboration=fed.collaboration, organizations=fed.org_ids,
                                 name="after restart", image=SCENARIO_IMAGE,
                                 input_={"method": "sleep_echo",
                                         "kwargs": {"seconds": 0, "value": "again"}})
        assert [r["echo"] for r in root.wait_for_results(again["id"], timeout=40)] == \
            ["again"] * 3
        assert run_statuses(root, task["id"]) == ["completed"] * 3
        assert root.wait_for_results(task["id"], timeout=5) == results
        assert run_statuses(root, crashed["id"]) == ["completed", "completed", "failed"]
        for org in fed.org_ids:
            assert marker_lines(marker, org) == ["started", "finished"], org
            assert marker_lines(crash_marker, org) == ["started"], org
    finally:
        for node in nodes:
            node.stop()
    for node in nodes:
        assert "Traceback" not in node.log(), node.log()[-3000:]
