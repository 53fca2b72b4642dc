"""Remove what runs of a stopped node left behind and no longer need (``v6 node clean``).

Why it is safe: a run the journal still holds as in flight keeps its container (or
process) and its run folder, because the node's next start reconciles it and may still
collect its output. Everything else that the runtime or the task directory holds for
this node is a leftover: ended containers of runs that are done, run folders of runs
that were delivered, empty job folders. The journal itself, waiting results and keys
are never touched. The node must not be running (the caller checks).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from v6lib.errors import V6Error
from v6lib.node.journal import Journal
from v6lib.node.runtime.base import ContainerRuntime

__all__ = ["CleanReport", "clean_node"]


@dataclass
class CleanReport:
    """What was removed, and what was kept because the node may still need it."""

    removed_jobs: list[str] = field(default_factory=list)
    removed_folders: list[Path] = field(default_factory=list)
    kept_runs: list[int] = field(default_factory=list)
    runtime_problem: str | None = None


def _in_flight(journal_path: Path) -> tuple[set[int], set[int]]:
    """Run ids and job ids still in flight (none when the node never ran)."""
    if not journal_path.exists():
        return set(), set()
    journal = Journal(journal_path)
    try:
        entries = journal.in_flight()
    finally:
        journal.close()
    return {e.run_id for e in entries}, {e.job_id or e.task_id for e in entries}


def _clean_folders(task_dir: Path, runs: set[int], jobs: set[int],
                   report: CleanReport) -> None:
    jobs_dir = task_dir / "jobs"
    if not jobs_dir.is_dir():
        return
    for job_dir in sorted(jobs_dir.iterdir()):
        if not job_dir.is_dir():
            continue
        job_id = int(job_dir.name) if job_dir.name.isdigit() else None
        if job_id not in jobs:
            shutil.rmtree(job_dir, ignore_errors=True)
            report.removed_folders.append(job_dir)
            continue
        for run_dir in sorted(job_dir.iterdir()):
            if run_dir.name.isdigit() and int(run_dir.name) not in runs:
                shutil.rmtree(run_dir, ignore_errors=True)
                report.removed_folders.append(run_dir)


def clean_node(task_dir: Path, journal_path: Path,
               runtime: ContainerRuntime | None) -> CleanReport:
    """Remove ended jobs and folders of runs that are not in flight.

    Args:
        task_dir: the node's task directory.
        journal_path: its run journal.
        runtime: the node's runtime; None (or one that fails) leaves containers alone and
            says why in ``runtime_problem``.
    """
    report = CleanReport()
    runs, jobs = _in_flight(journal_path)
    report.kept_runs = sorted(runs)
    if runtime is not None:
        try:
            for job in runtime.list_managed():
                if job.run_id not in runs and not job.running:
                    runtime.remove(job.handle)
                    report.removed_jobs.append(job.handle)
        except V6Error as exc:
            report.runtime_problem = exc.message
    _clean_folders(task_dir, runs, jobs, report)
    return report
