"""The mock server's memory: tasks and runs, the run state machine, and waiting on them.

One ``threading.Condition`` guards everything; a waiter sleeps on it until a run of its
task reaches a terminal status (no polling). Status changes go through the same
:func:`~v6lib.schemas.run_status.can_transition` the real server enforces, and a task's
status is derived by the server's own rule (:mod:`v6lib.rules.task_status`).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from v6lib.crypto import TaskBinding
from v6lib.errors import ConflictError, NotFoundError
from v6lib.rules.task_status import derive_task_status
from v6lib.schemas.run_status import RunStatus, can_transition

#: The image name the mock gives its tasks (no image is pulled or run).
MOCK_IMAGE = "mock"


def utcnow() -> datetime:
    return datetime.now(UTC)

__all__ = ["MOCK_IMAGE", "RunRecord", "TaskRecord", "TaskStore"]


@dataclass
class RunRecord:
    """One organization's run of a task. ``input``/``result`` are wire bytes (serialized,
    and sealed when the network is encrypted)."""

    id: int
    task_id: int
    organization_id: int
    input: bytes
    status: RunStatus = RunStatus.PENDING
    result: bytes | None = None
    log: str = ""
    reason: str | None = None
    assigned_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float | None = None
    progress_message: str | None = None


@dataclass
class TaskRecord:
    """A task as the server keeps it; ``job_id`` is shared by a task and all its subtasks."""

    id: int
    uid: str
    name: str
    description: str
    collaboration_id: int
    init_org_id: int
    parent_id: int | None
    job_id: int
    databases: list[dict[str, Any]]
    image: str = MOCK_IMAGE
    run_ids: list[int] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)

    @property
    def binding(self) -> TaskBinding:
        """What this task's payloads are sealed to."""
        return TaskBinding(self.uid, self.image, self.init_org_id)


class TaskStore:
    """Tasks and runs in memory, safe to use from many threads."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._tasks: dict[int, TaskRecord] = {}
        self._runs: dict[int, RunRecord] = {}
        self._task_ids = itertools.count(1)
        self._run_ids = itertools.count(1)

    @staticmethod
    def new_uid() -> str:
        """A fresh task uid (the crypto binding of the task's inputs and results)."""
        return str(uuid.uuid4())

    def add_task(
        self,
        *,
        name: str,
        description: str,
        collaboration_id: int,
        init_org_id: int,
        parent: TaskRecord | None,
        databases: list[dict[str, Any]],
        inputs: dict[int, bytes],
        uid: str | None = None,
    ) -> tuple[TaskRecord, list[RunRecord]]:
        """Store a task with one pending run per organization of ``inputs``."""
        with self._changed:
            task_id = next(self._task_ids)
            task = TaskRecord(
                id=task_id,
                uid=uid or self.new_uid(),
                name=name,
                description=description,
                collaboration_id=collaboration_id,
                init_org_id=init_org_id,
                parent_id=parent.id if parent else None,
                job_id=parent.job_id if parent else task_id,
                databases=databases,
            )
            runs = [
                RunRecord(id=next(self._run_ids), task_id=task_id, organization_id=org, input=blob)
                for org, blob in inputs.items()
            ]
            task.run_ids = [run.id for run in runs]
            self._tasks[task_id] = task
            self._runs.update((run.id, run) for run in runs)
            return task, runs

    def task(self, task_id: int) -> TaskRecord:
        """The task, or NotFoundError."""
        try:
            return self._tasks[task_id]
        except KeyError:
            raise NotFoundError(f"task {task_id} does not exist") from None

    def run(self, run_id: int) -> RunRecord:
        """The run, or NotFoundError."""
        try:
            return self._runs[run_id]
        except KeyError:
            raise NotFoundError(f"run {run_id} does not exist") from None

    def tasks(self) -> list[TaskRecord]:
        """Every task, in the order they were created."""
        with self._changed:
            return list(self._tasks.values())

    def runs(self, task_id: int) -> list[RunRecord]:
        """The task's runs in the order they were created."""
        with self._changed:
            return [self._runs[i] for i in self.task(task_id).run_ids]

    def transition(
        self,
        run: RunRecord,
        status: RunStatus,
        *,
        result: bytes | None = None,
        log: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Move ``run`` to ``status`` (legal moves only) and wake whoever waits on its task.

        Raises:
            ConflictError: the run's state machine does not allow the move.
        """
        with self._changed:
            if not can_transition(run.status, status):
                raise ConflictError(
                    f"run {run.id} cannot go from {run.status.value!r} to {status.value!r}"
                )
            run.status = status
            if status is RunStatus.ACTIVE:
                run.started_at = utcnow()
            if status.is_terminal:
                run.finished_at = utcnow()
                run.result = result
                run.reason = reason
                if log is not None:
                    run.log = log
                self._changed.notify_all()

    def set_progress(self, run: RunRecord, fraction: float, message: str) -> None:
        """Record a run's progress as its node forwarded it (ignored once it ended, as
        the server refuses progress of a finished run)."""
        with self._changed:
            if run.status.is_terminal:
                return
            run.progress, run.progress_message = fraction, message or None

    def wait(self, task_id: int, timeout: float | None) -> bool:
        """Sleep until every run of the task is terminal (True) or ``timeout`` passes."""
        task = self.task(task_id)
        with self._changed:
            return self._changed.wait_for(
                lambda: all(self._runs[i].status.is_terminal for i in task.run_ids), timeout
            )

    def status(self, task_id: int) -> RunStatus:
        """The task's status, by the rule the server applies."""
        return derive_task_status(run.status for run in self.runs(task_id))
