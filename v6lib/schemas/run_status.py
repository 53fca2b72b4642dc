"""Run statuses and the legal transitions between them: the run's state machine."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TERMINAL_STATUSES", "RunStatus", "can_transition"]


class RunStatus(StrEnum):
    """Where a run is in its life. Values keep vantage6's strings for compatibility."""

    PENDING = "pending"
    INITIALIZING = "initializing"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CRASHED = "crashed"
    START_FAILED = "start failed"
    NO_IMAGE = "no docker image"
    UNEXPECTED_OUTPUT = "unexpected output"
    NOT_ALLOWED = "not allowed"
    KILLED = "killed by user"

    @property
    def is_terminal(self) -> bool:
        """Whether the run can no longer change."""
        return self in TERMINAL_STATUSES

    @property
    def is_success(self) -> bool:
        return self is RunStatus.COMPLETED


TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CRASHED,
        RunStatus.START_FAILED,
        RunStatus.NO_IMAGE,
        RunStatus.UNEXPECTED_OUTPUT,
        RunStatus.NOT_ALLOWED,
        RunStatus.KILLED,
    }
)

_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset(
        {RunStatus.INITIALIZING, RunStatus.NOT_ALLOWED, RunStatus.KILLED}
    ),
    RunStatus.INITIALIZING: frozenset(
        {
            RunStatus.ACTIVE,
            RunStatus.START_FAILED,
            RunStatus.NO_IMAGE,
            RunStatus.NOT_ALLOWED,
            RunStatus.KILLED,
            # A node that crashed while starting a container picks the run up again.
            RunStatus.PENDING,
        }
    ),
    RunStatus.ACTIVE: frozenset(
        {
            RunStatus.COMPLETED,
            RunStatus.FAILED,
            RunStatus.CRASHED,
            RunStatus.UNEXPECTED_OUTPUT,
            # The node's disclosure control refused the result (v6lib.rules.disclosure).
            RunStatus.NOT_ALLOWED,
            RunStatus.KILLED,
        }
    ),
}


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    """Whether a run in ``current`` may move to ``new``.

    Repeating a terminal status is allowed (an idempotent re-send of a result);
    callers decide whether the repeated payload matches.
    """
    if current == new:
        return current.is_terminal
    return new in _TRANSITIONS.get(current, frozenset())
