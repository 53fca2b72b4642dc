"""What the chaos suite checks afterwards, and the counts it prints.

Every task on the server, including one created twice by a retried request, must have
the status its runs' statuses derive to (``v6lib.rules``), every run must have completed
and executed exactly once (one ``started`` and one ``finished`` marker line), and every
task the researcher created must have delivered each run's result exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.workload import SECONDS, Researcher, marker_of
from tests.integration.conftest import marker_lines
from v6lib.client import Client
from v6lib.rules.task_status import derive_task_status

__all__ = ["Tally", "check_outcome"]

DISK_FULL = ("node disk full", "No space left on device")
"""How the node's reason, or the algorithm's own log, names a full disk."""


@dataclass
class Tally:
    """The counts of one chaos run; ``problems`` lists every broken promise."""

    tasks: int = 0
    runs: int = 0
    executions: int = 0
    results: int = 0
    retried_creations: int = 0
    refused_disk_full: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        faults = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.faults.items()))
        return (f"tasks {self.tasks}, runs {self.runs}, executions {self.executions}, "
                f"results delivered {self.results}, task creations retried "
                f"{self.retried_creations}, runs ended by a full disk "
                f"{self.refused_disk_full}; faults injected {sum(self.faults.values())} "
                f"({faults})")


def _check_task(tally: Tally, root: Client, task: dict[str, Any], org_ids: list[int],
                marker_dir: Path) -> None:
    runs = root.run.from_task(task["id"])
    statuses = [run["status"] for run in runs]
    tally.runs += len(runs)
    derived = derive_task_status(statuses).value
    if task["status"] != derived:
        tally.problems.append(f"task {task['id']} is {task['status']!r}, its runs "
                              f"{statuses} derive {derived!r}")
    refused = {run["organization_id"] for run in runs if _refused_for_disk(run)}
    tally.refused_disk_full += len(refused)
    if any(run["status"] != "completed" for run in runs
           if run["organization_id"] not in refused):
        tally.problems.append(f"task {task['id']}: runs ended {statuses}")
    marker = marker_of(task["name"], marker_dir)
    for org in org_ids:
        lines = marker_lines(marker, org)
        tally.executions += lines.count("started")
        if org in refused:  # ended for lack of space: it must not have run twice
            if lines not in ([], ["started"], ["started", "finished"]):
                tally.problems.append(f"task {task['id']} at organization {org} ended "
                                      f"for a full disk but executed as {lines}")
            continue
        if lines != ["started", "finished"]:
            tally.problems.append(f"task {task['id']} at organization {org} executed as "
                                  f"{lines} (once: ['started', 'finished'])")


def _refused_for_disk(run: dict[str, Any]) -> bool:
    """The run could not start, or its algorithm could not write, for lack of space at
    the node, and the researcher was told so (in the reason, or the algorithm's log)."""
    told = (DISK_FULL[0] in str(run.get("reason") or "")
            or DISK_FULL[1] in str(run.get("log") or ""))
    return run["status"] in ("start failed", "failed") and told


def check_outcome(tally: Tally, root: Client, researcher: Researcher,
                  others: Collection[int] = ()) -> None:
    """Add the counts and problems of what the researcher did and the server holds.

    Args:
        others: tasks of the collaboration that the researcher did not create (a test's
            own), left to the test to check.
    """
    fed = researcher.fed
    tasks = [task for task in root.task.list(collaboration=fed.collaboration, all_pages=True)
             if task["id"] not in others]
    tally.tasks = len(tasks)
    for task in tasks:
        _check_task(tally, root, task, fed.org_ids, researcher.marker_dir)
    created = {s.task_id for s in researcher.submissions if s.task_id is not None}
    unknown = [t["id"] for t in tasks if t["id"] not in created]
    if len(unknown) > sum(max(0, s.create_attempts - 1) for s in researcher.submissions):
        tally.problems.append(f"tasks {unknown} exist that no request created")
    for submission in researcher.submissions:
        tally.retried_creations += max(0, submission.create_attempts - 1)
        if submission.error is not None and any(
                cause in submission.error for cause in DISK_FULL):
            continue  # the researcher was told why; the run check covers the rest
        if submission.error is not None:
            tally.problems.append(f"task #{submission.index} was lost: {submission.error}")
            continue
        results = submission.results or []
        tally.results += len(results)
        expected = [{"echo": submission.index, "slept": SECONDS}] * len(fed.org_ids)
        if results != expected:
            tally.problems.append(f"task {submission.task_id} delivered {results}, "
                                  f"expected {expected}")
    if tally.results * 3 < tally.runs:  # the full disk ends a few runs, not the suite's work
        tally.problems.append(f"only {tally.results} of {tally.runs} runs delivered a "
                              "result: the faults did not land on a working federation")
