"""A task's status, derived from its runs' statuses: the one rule server and mock apply."""

from __future__ import annotations

from collections.abc import Iterable

from v6lib.schemas.run_status import RunStatus

__all__ = ["KILL_REASON", "derive_task_status"]

#: The reason of every run ended by a kill of its task (or of an ancestor task).
KILL_REASON = "killed by user"

_RUNNING = {RunStatus.INITIALIZING, RunStatus.ACTIVE}


def derive_task_status(statuses: Iterable[str | RunStatus]) -> RunStatus:
    """``pending`` until a run starts, ``active`` while any runs, then the outcome.

    The outcome is ``completed`` when every run completed, ``killed by user`` when any
    was killed, and otherwise the first failure among the runs (in run order).
    """
    runs = [RunStatus(s) for s in statuses]
    if not runs:
        return RunStatus.PENDING
    unfinished = [s for s in runs if not s.is_terminal]
    if unfinished:
        return RunStatus.ACTIVE if any(s in _RUNNING for s in runs) or len(unfinished) \
            < len(runs) else RunStatus.PENDING
    if all(s is RunStatus.COMPLETED for s in runs):
        return RunStatus.COMPLETED
    if RunStatus.KILLED in runs:
        return RunStatus.KILLED
    return next(s for s in runs if s is not RunStatus.COMPLETED)
