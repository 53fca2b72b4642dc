"""The run time limit: the shorter of the node's and the task's, and whose it is."""

from __future__ import annotations

import pytest

from v6lib.rules.time_limits import TimeLimit, run_time_limit


@pytest.mark.parametrize(("node", "task", "expected"), [
    (None, None, None),
    (3600, None, TimeLimit(3600, "node")),
    (None, 30, TimeLimit(30, "task")),
    (3600, 30, TimeLimit(30, "task")),  # a task may shorten the node's limit
    (30, 3600, TimeLimit(30, "node")),  # never lengthen it
    (30, 30, TimeLimit(30, "node")),  # equal: the operator's limit is named
])
def test_the_shorter_limit_applies(node: float | None, task: float | None,
                                   expected: TimeLimit | None) -> None:
    assert run_time_limit(node, task) == expected


def test_the_reason_names_whose_limit_it_was() -> None:
    assert TimeLimit(0.5, "task").reason == "run exceeded the task's time limit of 0.5 s"
    assert TimeLimit(3600, "node").reason == "run exceeded the node's time limit of 3600 s"
