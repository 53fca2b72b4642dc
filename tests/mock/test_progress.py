"""Progress on a MockNetwork: the node's rule and rate limit, seen in ``network.runs``."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import pandas as pd

from v6lib.mock import MockNetwork
from v6lib.schemas.run_status import RunStatus


def _watch(network: MockNetwork, task_id: int) -> dict[int, list[tuple[Any, Any]]]:
    """Each organization's progress as a researcher polling the runs sees it change."""
    seen: dict[int, list[tuple[Any, Any]]] = {}
    while True:
        runs = network.runs(task_id)
        for run in runs:
            now = (run["progress"], run["progress_message"])
            history = seen.setdefault(run["organization_id"], [])
            if now[0] is not None and (not history or history[-1] != now):
                history.append(now)
        if all(RunStatus(run["status"]).is_terminal for run in runs):
            return seen
        time.sleep(0.05)


def test_progress_reaches_the_researcher_in_order_without_messages_by_default(
        algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites[:2]) as network:
        task = network.create_task("count_up", kwargs={"steps": 4, "seconds": 0.6})
        seen = _watch(network, task["id"])
        assert network.wait_for_results(task["id"]) == [4, 4]
    for history in seen.values():
        fractions = [fraction for fraction, _ in history]
        assert len(fractions) >= 2 and fractions == sorted(fractions)
        assert set(fractions) <= {0.25, 0.5, 0.75, 1.0}
        assert all(message is None for _, message in history)


def test_messages_leave_where_the_policy_allows_them_cleaned(
        algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites[:2], organization_ids=[1, 2],
                     node_policies={1: {"allow_progress_messages": True}}) as network:
        task = network.create_task("count_up", kwargs={"steps": 2, "seconds": 1.1,
                                                       "message": "mean=<43>"})
        seen = _watch(network, task["id"])
    assert {message for _, message in seen[1]} <= {"mean43 1/2", "mean43 2/2"}
    assert seen[1] and all(message is None for _, message in seen[2])


def test_reports_within_a_second_are_held_and_the_latest_wins(
        algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites[:1]) as network:
        task = network.create_task("count_up", kwargs={"steps": 10, "seconds": 0.15})
        seen = _watch(network, task["id"])
    fractions = [fraction for fraction, _ in seen[1]]
    # the first report at once, the latest one held a second later, then the run ended
    # before the next second: what it held is not delivered, as on a node
    assert fractions[0] == 0.1 and len(fractions) == 2 and 0.1 < fractions[1] < 1.0


def test_a_report_that_is_not_a_number_fails_the_run(
        algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites[:1]) as network:
        task = network.create_task("count_up", kwargs={"steps": 0, "seconds": 0})
        network.store.wait(task["id"], 10)
        run = network.runs(task["id"])[0]
    assert run["status"] == "failed"
    assert run["reason"].startswith("ValidationError: progress must be a number")
