"""What one run of a task ended with, and the error raised when runs failed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from v6lib.errors import AlgorithmError
from v6lib.schemas import RunStatus

__all__ = ["RunOutcome", "failure_error", "log_tail"]

LOG_TAIL_LINES = 20
LOG_TAIL_CHARS = 2000


@dataclass(frozen=True)
class RunOutcome:
    """One organization's part of a task: its status and, when it completed, its result."""

    run_id: int
    organization_id: int
    status: RunStatus
    result: Any = None
    log: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run completed (a result is present)."""
        return self.status is RunStatus.COMPLETED


def log_tail(log: str | None) -> str:
    """The last lines of a run log: what usually names the cause of a failure."""
    if not log:
        return ""
    tail = "\n".join(log.rstrip().splitlines()[-LOG_TAIL_LINES:])
    return tail[-LOG_TAIL_CHARS:]


def failure_error(task_id: int, outcomes: Sequence[RunOutcome],
                  names: Mapping[int, str] | None = None) -> AlgorithmError:
    """One AlgorithmError naming every failed organization, its status, reason and log tail."""
    failed = [o for o in outcomes if not o.ok]
    parts = []
    for o in failed:
        name = (names or {}).get(o.organization_id)
        who = f"organization {o.organization_id}" + (f" ({name})" if name else "")
        line = f"run {o.run_id} at {who} ended with status '{o.status.value}'"
        if o.reason:
            line += f": {o.reason}"
        tail = log_tail(o.log)
        if tail:
            line += "\n  log tail:\n    " + tail.replace("\n", "\n    ")
        parts.append(line)
    done = len(outcomes) - len(failed)
    message = (f"task {task_id}: {len(failed)} of {len(outcomes)} run(s) failed "
               f"({done} completed; pass raise_on_failure=False to get every outcome)\n"
               + "\n".join(parts))
    return AlgorithmError(message, details={
        "task_id": task_id,
        "failed": [{"run_id": o.run_id, "organization_id": o.organization_id,
                    "status": o.status.value} for o in failed]})
