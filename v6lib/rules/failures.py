"""How a task's failed runs are reported: one shape for every client and the mock.

Why shared: a central function (``AlgorithmClient.wait_for_results``), the researcher's
client, the CLI and the MockNetwork all tell someone that runs failed. They must say it
with the same words and the same ``details``, or an algorithm tested on the mock meets
different errors in production. The first line names the failing organization and the
algorithm's own message (the run's ``reason``), so a failure nested in subtasks reads
from the outside in: ``organization 1 failed: AlgorithmError: task 7: organization 3
failed: ZeroDivisionError: division by zero``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from v6lib.errors import AlgorithmError
from v6lib.schemas.run_status import RunStatus

__all__ = ["FAILURE_RECORD_LIMIT", "LOG_TAIL_LINES", "TRACEBACK_WITHHELD", "RunOutcome",
           "failure_error", "failure_record", "log_tail", "outcome_of", "read_failure_record",
           "without_tracebacks"]

#: The key of the record a failed run leaves in its OUTPUT_FILE instead of a result.
_FAILURE_KEY = "v6lib_failure"
#: Most bytes of an output file the node reads to find a failure record.
FAILURE_RECORD_LIMIT = 64 * 1024
_REASON_CHARS = 2000

LOG_TAIL_LINES = 20
LOG_TAIL_CHARS = 2000
#: What stands in a shared log where a Python traceback was.
TRACEBACK_WITHHELD = ("[traceback withheld by the node: share_algorithm_tracebacks is "
                      "false]")
_TRACEBACK_START = "Traceback (most recent call last):"


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

    @property
    def cause(self) -> str:
        """The run's own account of its failure: its reason, else its status."""
        return (self.reason or "").strip() or f"ended with status '{self.status.value}'"


def outcome_of(run: Mapping[str, Any], result: Any = None) -> RunOutcome:
    """A run as the server (or the mock) answers it, as an outcome."""
    return RunOutcome(run_id=int(run["id"]), organization_id=int(run["organization_id"]),
                      status=RunStatus(run["status"]), result=result, log=run.get("log"),
                      reason=run.get("reason"))


def log_tail(log: str | None) -> str:
    """The last lines of a run log: what usually names the cause of a failure."""
    if not log:
        return ""
    tail = "\n".join(log.rstrip().splitlines()[-LOG_TAIL_LINES:])
    return tail[-LOG_TAIL_CHARS:]


def _who(outcome: RunOutcome, names: Mapping[int, str] | None) -> str:
    name = (names or {}).get(outcome.organization_id)
    return f"organization {outcome.organization_id}" + (f" ({name})" if name else "")


def without_tracebacks(log: str) -> str:
    """``log`` with each Python traceback's frames replaced by :data:`TRACEBACK_WITHHELD`.

    Why: a traceback shows the algorithm's source lines and, in chained exceptions,
    messages that may quote data; a data owner who shares logs need not share those
    (``share_algorithm_tracebacks: false``, the default). The exception's own line (the
    run's reason) stays. A hygiene rule, not a barrier: an algorithm that prints data
    prints it anywhere in its log; ``share_algorithm_logs: false`` keeps the whole log.
    """
    lines = log.splitlines(keepends=True)
    kept: list[str] = []
    in_frames = False
    for line in lines:
        if line.strip() == _TRACEBACK_START:
            in_frames = True
            kept.append(line.replace(_TRACEBACK_START, TRACEBACK_WITHHELD))
        elif in_frames and line[:1] in (" ", "\t"):
            continue  # a frame: "  File ...", its source line, its markers
        else:
            in_frames = False
            kept.append(line)
    return "".join(kept)


def failure_error(task_id: int, outcomes: Sequence[RunOutcome],
                  names: Mapping[int, str] | None = None) -> AlgorithmError:
    """One AlgorithmError for the failed runs of ``task_id``.

    First line: ``task 7: organization 3 failed: <its reason>`` (and how many others
    failed), or ``task 7: organization 3: refused by ...`` for a run the node did not
    allow; then one paragraph per failed run with its status, reason and log tail.
    ``details``: ``{"task_id", "failed": [{"run_id", "organization_id", "status",
    "reason"}]}``.
    """
    failed = [o for o in outcomes if not o.ok]
    first = failed[0]
    others = len(failed) - 1
    # NOTE: a refusal (a policy of the data owner) is not a failure of the algorithm
    verb = ":" if first.status is RunStatus.NOT_ALLOWED else " failed:"
    headline = f"task {task_id}: {_who(first, names)}{verb} {first.cause.splitlines()[0]}"
    if others:
        headline += f" (and {others} other run(s) of {len(outcomes)})"
    parts = [headline]
    for o in failed:
        line = f"run {o.run_id} at {_who(o, names)} ended with status '{o.status.value}'"
        if o.reason:
            line += f": {o.reason}"
        tail = log_tail(o.log)
        if tail:
            line += "\n  log tail:\n    " + tail.replace("\n", "\n    ")
        parts.append(line)
    done = len(outcomes) - len(failed)
    parts.append(f"{len(failed)} of {len(outcomes)} run(s) failed, {done} completed")
    return AlgorithmError("\n".join(parts), details={
        "task_id": task_id,
        "failed": [{"run_id": o.run_id, "organization_id": o.organization_id,
                    "status": o.status.value, "reason": o.reason} for o in failed]})


def failure_record(reason: str, exit_code: int) -> bytes:
    """What the wrapper writes to OUTPUT_FILE when the algorithm failed.

    Why: the node reports a failed run's reason to the researcher. Without the record it
    only knows the exit code; with it, it gives the algorithm's own one-line account
    (the traceback stays in the log, shared only as the data owner allows).
    """
    return json.dumps({_FAILURE_KEY: {"reason": reason[:_REASON_CHARS],
                                      "exit_code": exit_code}}).encode("utf-8")


def read_failure_record(data: bytes) -> str | None:
    """The reason in a failure record, or None when ``data`` is not one.

    ``data`` comes from a container: it is parsed defensively, and only one printable
    line of bounded length is kept.
    """
    if not data or len(data) > FAILURE_RECORD_LIMIT:
        return None
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    inner = record.get(_FAILURE_KEY) if isinstance(record, dict) else None
    reason = inner.get("reason") if isinstance(inner, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        return None
    line = "".join(c if c.isprintable() else " " for c in reason.strip().splitlines()[0])
    return line[:_REASON_CHARS]
