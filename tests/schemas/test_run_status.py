"""The run state machine."""

from __future__ import annotations

import itertools

import pytest

from v6lib.schemas import TERMINAL_STATUSES, RunStatus, can_transition


def test_happy_path_is_legal() -> None:
    path = [RunStatus.PENDING, RunStatus.INITIALIZING, RunStatus.ACTIVE, RunStatus.COMPLETED]
    for current, new in itertools.pairwise(path):
        assert can_transition(current, new)


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_terminal_states_never_move_except_idempotent_repeat(terminal: RunStatus) -> None:
    assert terminal.is_terminal
    for other in RunStatus:
        assert can_transition(terminal, other) == (other == terminal)


def test_skipping_states_is_illegal() -> None:
    assert not can_transition(RunStatus.PENDING, RunStatus.COMPLETED)
    assert not can_transition(RunStatus.PENDING, RunStatus.ACTIVE)
    assert not can_transition(RunStatus.ACTIVE, RunStatus.PENDING)
    assert not can_transition(RunStatus.PENDING, RunStatus.PENDING)


def test_kill_is_possible_from_every_open_state() -> None:
    for status in (RunStatus.PENDING, RunStatus.INITIALIZING, RunStatus.ACTIVE):
        assert not status.is_terminal
        assert can_transition(status, RunStatus.KILLED)


def test_values_keep_the_compatible_strings() -> None:
    assert RunStatus("killed by user") is RunStatus.KILLED
    assert RunStatus("not allowed") is RunStatus.NOT_ALLOWED
    assert RunStatus.COMPLETED.is_success and not RunStatus.FAILED.is_success
