"""What a progress report may carry out of a node, and how often (v6lib.rules.progress)."""

from __future__ import annotations

import math

import pytest

from v6lib.errors import ValidationError
from v6lib.rules.progress import (
    MESSAGE_LIMIT,
    ProgressGate,
    ProgressReport,
    clean_message,
    merge,
    progress_report,
)


@pytest.mark.parametrize(("fraction", "percent"), [
    (0, 0), (0.004, 0), (0.005, 0), (0.4321, 43), (0.999, 100), (1, 100),
    (-3, 0), (7.5, 100)])
def test_fraction_is_clamped_and_rounded_to_whole_percent(fraction: float,
                                                          percent: int) -> None:
    assert progress_report(fraction, messages_allowed=False).percent == percent


@pytest.mark.parametrize("fraction", ["0.5", None, True, math.nan, math.inf, [0.5]])
def test_a_fraction_that_is_not_a_finite_number_is_refused(fraction: object) -> None:
    with pytest.raises(ValidationError):
        progress_report(fraction, messages_allowed=True)


def test_the_message_leaves_only_where_the_node_allows_it() -> None:
    assert progress_report(0.5, "step 5/10", messages_allowed=False).message == ""
    assert progress_report(0.5, "step 5/10", messages_allowed=True).message == "step 5/10"


def test_a_message_keeps_only_plain_characters_and_its_limit() -> None:
    assert clean_message('mean="43.2"\n{row: [1, 2]}') == "mean43.2row: 1, 2"
    assert clean_message("é" * 5 + "ok") == "ok"
    assert len(clean_message("x" * 500)) == MESSAGE_LIMIT
    with pytest.raises(ValidationError):
        clean_message(42)


def test_progress_never_goes_down() -> None:
    assert merge(ProgressReport(60, "a"), ProgressReport(20, "b")) == ProgressReport(60, "b")
    assert merge(ProgressReport(20), ProgressReport(60)) == ProgressReport(60)
    assert merge(None, ProgressReport(5)) == ProgressReport(5)


def test_the_gate_forwards_one_report_per_interval_and_the_latest_wins() -> None:
    gate = ProgressGate(min_interval=1.0)
    gate.offer(7, ProgressReport(10))
    assert gate.due(100.0) == [(7, ProgressReport(10))]
    gate.offer(7, ProgressReport(20))
    gate.offer(7, ProgressReport(30))
    assert gate.due(100.5) == [] and gate.held()
    assert gate.due(101.0) == [(7, ProgressReport(30))]
    assert gate.due(105.0) == [] and not gate.held()  # no news: nothing due


def test_the_gate_keeps_runs_apart_and_forgets_ended_ones() -> None:
    gate = ProgressGate(min_interval=1.0)
    gate.offer(1, ProgressReport(10))
    gate.offer(2, ProgressReport(90))
    assert sorted(gate.due(0.0)) == [(1, ProgressReport(10)), (2, ProgressReport(90))]
    gate.offer(1, ProgressReport(50))
    gate.forget(1)
    assert gate.due(10.0) == []
