"""The MockNetwork's server: tasks and runs in memory, decided by production's own rules.

What it swaps is only storage (the :class:`~v6lib.mock.store.TaskStore` instead of a
database). Which organizations a task may reach and which databases a subtask gets
(:mod:`v6lib.rules.task_requests`), what a run's token may see
(:mod:`v6lib.rules.visibility`), a task's status (:mod:`v6lib.rules.task_status`) and the
JSON shape of tasks, runs, organizations and the collaboration (the wire models of
:mod:`v6lib.schemas`) are the ones the real server uses.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from v6lib import serialization
from v6lib.crypto import TaskBinding
from v6lib.mock.codec import MockKeyring
from v6lib.mock.store import MOCK_IMAGE, RunRecord, TaskRecord, TaskStore
from v6lib.rules.task_requests import (
    normalize_databases,
    subtask_databases,
    unreachable_organizations,
)
from v6lib.rules.task_status import KILL_REASON
from v6lib.rules.visibility import check_job_visible
from v6lib.schemas.collaboration import CollaborationOut
from v6lib.schemas.organization import OrganizationOut
from v6lib.schemas.run import RunOut
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task import TaskOut

__all__ = ["MockServer"]


class MockServer:
    """Tasks, runs, organizations and one collaboration, kept in memory.

    Args:
        organization_ids: the members of the collaboration (each has a node).
        collaboration_id: the collaboration's id.
        keyring: seals inputs as a researcher's client or node proxy would.
    """

    def __init__(self, organization_ids: Sequence[int], collaboration_id: int,
                 keyring: MockKeyring) -> None:
        self.organization_ids = list(organization_ids)
        self.collaboration_id = collaboration_id
        self.keyring = keyring
        self.store = TaskStore()

    # -- tasks ----------------------------------------------------------------------------
    def create_task(self, *, name: str, description: str, organizations: Sequence[int],
                    input_: Mapping[str, Any], databases: Sequence[Any] | None,
                    init_org_id: int, parent: TaskRecord | None
                    ) -> tuple[TaskRecord, list[RunRecord]]:
        """``POST /task``: one pending run per organization, each with its sealed input.

        Raises:
            ValidationError: organizations without a node, repeated or none; databases
                in a form the server does not take.
        """
        orgs = list(organizations)
        unreachable_organizations(orgs, self.organization_ids,
                                  collaboration_id=self.collaboration_id)
        requested = None if databases is None else normalize_databases(databases)
        if parent is not None:
            requested = subtask_databases(requested, parent.databases)
        raw = serialization.dumps(dict(input_), root="input")
        uid = TaskStore.new_uid()
        binding = TaskBinding(uid, MOCK_IMAGE, init_org_id)
        inputs = {org: self.keyring.encode_input(raw, task=binding, organization_id=org)
                  for org in orgs}
        return self.store.add_task(
            name=name, description=description, collaboration_id=self.collaboration_id,
            init_org_id=init_org_id, parent=parent, databases=requested or [],
            inputs=inputs, uid=uid)

    def kill_task(self, task_id: int) -> int:
        """Kill the task and every task below it: unfinished runs end "killed by user"
        (as the server does); returns how many runs were killed."""
        wanted = {task_id}
        self.store.task(task_id)  # NotFoundError for an unknown task
        killed = 0
        for task in self.store.tasks():  # creation order: parents before children
            if task.id in wanted or task.parent_id in wanted:
                wanted.add(task.id)
                for run in self.store.runs(task.id):
                    if not run.status.is_terminal:
                        self.store.transition(run, RunStatus.KILLED, reason=KILL_REASON)
                        killed += 1
        return killed

    def visible_task(self, task_id: int, caller_job_id: int | None) -> TaskRecord:
        """The task, if the caller may see it (``caller_job_id`` None: the researcher)."""
        task = self.store.task(task_id)
        if caller_job_id is not None:
            check_job_visible(caller_job_id, task_id, task.job_id)
        return task

    # -- wire shapes ----------------------------------------------------------------------
    def task_json(self, task: TaskRecord) -> dict[str, Any]:
        """The task as ``GET /task/{id}`` answers it."""
        return TaskOut(
            id=task.id, uid=task.uid, name=task.name, description=task.description,
            image=task.image, collaboration_id=task.collaboration_id,
            init_org_id=task.init_org_id, parent_id=task.parent_id, job_id=task.job_id,
            databases=[dict(d) for d in task.databases],
            status=self.store.status(task.id), created_at=task.created_at,
        ).model_dump(mode="json")

    def run_json(self, run: RunRecord, result: Any) -> dict[str, Any]:
        """The run as ``GET /run`` answers it, with ``result`` already decoded."""
        wire = None if run.result is None else base64.b64encode(run.result).decode("ascii")
        body = RunOut(
            id=run.id, task_id=run.task_id, organization_id=run.organization_id,
            node_id=run.organization_id, status=run.status,
            input=base64.b64encode(run.input).decode("ascii"), result=wire,
            log=run.log, reason=run.reason, assigned_at=run.assigned_at,
            started_at=run.started_at, finished_at=run.finished_at,
            progress=run.progress, progress_message=run.progress_message,
        ).model_dump(mode="json")
        body["result"] = result
        return body

    def organization_json(self, organization_id: int) -> dict[str, Any]:
        return OrganizationOut(
            id=organization_id, name=f"organization {organization_id}",
            public_key=self.keyring.public_key(organization_id),
        ).model_dump(mode="json")

    def collaboration_json(self) -> dict[str, Any]:
        return CollaborationOut(
            id=self.collaboration_id, name=f"collaboration {self.collaboration_id}",
            encrypted=self.keyring.encrypted, organization_ids=self.organization_ids,
        ).model_dump(mode="json")
