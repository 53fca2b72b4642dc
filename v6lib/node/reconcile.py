"""Start-up reconciliation: bring the journal, the runtime and the server back in agreement.

Why: after a crash or restart the node must neither lose a result nor run anything twice.
For each run the journal still holds as in flight, the server's view and the runtime's
(containers found by their labels) decide:

* killed on the server -> stop its container, report killed, never restart;
* another terminal status on the server -> nothing to report (logged);
* container still running -> keep watching it;
* container ended -> collect its exit code and output as if it just finished;
* no container, but an output file -> treat as finished;
* no container, run had started -> "crashed" with the reason "node restarted and the
  run's container was gone";
* never started -> start it now (the server allows initializing -> pending -> ...).

Runs the server says are initializing/active on this node but that the journal does
not know (a lost journal) end as start failed/crashed with a reason. Finished but not
uploaded entries are the outbox's business.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from v6lib.errors import NotFoundError
from v6lib.node.executor import GONE_REASON, RunExecutor
from v6lib.node.journal import JournalEntry, LocalState
from v6lib.node.run_files import run_paths
from v6lib.node.runtime.base import ManagedJob
from v6lib.schemas.run_status import RunStatus

__all__ = ["ReconcileReport", "reconcile"]

log = logging.getLogger(__name__)
LOST_REASON = "the node has no record of this run (its local journal was lost)"


@dataclass
class ReconcileReport:
    """What reconciliation did, by run id (for logs and tests)."""

    watching: list[int] = field(default_factory=list)
    collected: list[int] = field(default_factory=list)
    crashed: list[int] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    restarted: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    unknown_reported: list[int] = field(default_factory=list)


def reconcile(executor: RunExecutor) -> ReconcileReport:
    """Reconcile every in-flight journal entry; see the module docstring."""
    report = ReconcileReport()
    managed = {job.run_id: job for job in executor.runtime.list_managed()}
    for entry in executor.journal.in_flight():
        _one(executor, entry, managed.pop(entry.run_id, None), report)
    for job in managed.values():
        known = executor.journal.get(job.run_id)
        if known is None or not known.in_flight:
            executor.runtime.remove(job.handle)
            report.orphans_removed.append(job.handle)
    _report_unknown(executor, report)
    log.info("reconciled journal: %s", report)
    return report


def _one(executor: RunExecutor, entry: JournalEntry, job: ManagedJob | None,
         report: ReconcileReport) -> None:
    run_id = entry.run_id
    try:
        server_run = executor.link.run(run_id)
    except NotFoundError:
        executor.journal.abandon(run_id, "the run no longer exists on the server")
        if job:
            executor.runtime.remove(job.handle)
        report.abandoned.append(run_id)
        return
    status = RunStatus(server_run["status"])
    if status is RunStatus.KILLED:
        executor.kill_run(run_id, "killed by user")
        if job:
            executor.runtime.remove(job.handle)
        report.killed.append(run_id)
        return
    if status.is_terminal:
        executor.journal.abandon(run_id, f"the server already holds '{status.value}'")
        if job:
            executor.runtime.remove(job.handle)
        report.abandoned.append(run_id)
        return
    if job is not None:
        (report.watching if executor.adopt(run_id, job) else report.collected).append(run_id)
        return
    started = entry.state is LocalState.STARTED or status is RunStatus.ACTIVE
    if started:
        output = run_paths(executor.options.task_dir, entry.job_id or entry.task_id,
                           run_id).output_file
        # NOTE: lexists: whatever the algorithm left under that name (a link included)
        # is collected, and so judged by the output rules instead of being looked through.
        if os.path.lexists(output):
            executor.complete(run_id, None, None)
            report.collected.append(run_id)
        else:
            executor.journal.finish(run_id, RunStatus.CRASHED.value, reason=GONE_REASON)
            executor.outbox.notify()
            report.crashed.append(run_id)
        return
    executor.handle_run(server_run)
    report.restarted.append(run_id)


def _report_unknown(executor: RunExecutor, report: ReconcileReport) -> None:
    node_id = executor.identity.node_id
    for status, outcome in ((RunStatus.INITIALIZING, RunStatus.START_FAILED),
                            (RunStatus.ACTIVE, RunStatus.CRASHED)):
        for run in list(executor.link.runs(node_id=node_id, status=status.value)):
            run_id = int(run["id"])
            if executor.journal.get(run_id) is not None:
                continue
            executor.journal.receive(run_id, task_id=int(run["task_id"]))
            executor.journal.update(run_id, active_reported=True)
            executor.journal.finish(run_id, outcome.value, reason=LOST_REASON)
            executor.outbox.notify()
            report.unknown_reported.append(run_id)
