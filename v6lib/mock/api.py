"""``MockAlgorithmApi``: the AlgorithmApi of one run (or of the researcher), in process.

It answers what the server answers through the node proxy, by asking the
:class:`~v6lib.mock.server.MockServer` (production's rules on in-memory storage): a
run's api creates subtasks in its own job, reads only its own job's tasks, and opens
results with its own organization's key. The real
:class:`~v6lib.client.algorithm_client.AlgorithmClient` sits on top of it, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v6lib.errors import NotFoundError
from v6lib.mock.server import MockServer
from v6lib.mock.store import RunRecord, TaskRecord

__all__ = ["MockAlgorithmApi", "Submit"]

#: ``POST /task`` as the network carries it out: the server stores, the nodes start.
Submit = Callable[..., TaskRecord]


class MockAlgorithmApi:
    """:class:`~v6lib.client.algorithm_api.AlgorithmApi` over a :class:`MockNetwork`.

    Args:
        server: the in-memory server whose tasks and organizations this api sees.
        submit: creates a task and starts its runs (``MockNetwork.submit``).
        organization_id: where the caller runs (the researcher's organization for the
            top-level api); results are opened with this organization's key.
        parent: the task of the calling run; None for the researcher, who may create
            top-level tasks and read any task of the collaboration.
    """

    def __init__(self, server: MockServer, submit: Submit, *, organization_id: int,
                 parent: TaskRecord | None = None) -> None:
        self._server = server
        self._submit = submit
        self.organization_id = organization_id
        self.parent = parent

    def create_task(
        self,
        *,
        name: str,
        description: str,
        organizations: list[int],
        input_: dict[str, Any],
        databases: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        task = self._submit(
            name=name, description=description, organizations=organizations,
            input_=input_, databases=databases, init_org_id=self.organization_id,
            parent=self.parent)
        return self._server.task_json(task)

    def wait_for_task(self, task_id: int, timeout: float | None) -> dict[str, Any]:
        task = self._visible_task(task_id)
        self._server.store.wait(task_id, timeout)
        return self._server.task_json(task)

    def get_runs(self, task_id: int) -> list[dict[str, Any]]:
        task = self._visible_task(task_id)
        return [self._run_json(task, run) for run in self._server.store.runs(task_id)]

    def get_run(self, run_id: int) -> dict[str, Any]:
        run = self._server.store.run(run_id)
        return self._run_json(self._visible_task(run.task_id), run)

    def _run_json(self, task: TaskRecord, run: RunRecord) -> dict[str, Any]:
        """The run as the proxy hands it over: its result opened with this caller's key."""
        return self._server.run_json(run, self._server.keyring.decode_result(
            run.result, task=task.binding, organization_id=run.organization_id,
            reader_id=self.organization_id))

    def get_organizations(self) -> list[dict[str, Any]]:
        return [self._server.organization_json(org) for org in self._server.organization_ids]

    def get_organization(self, organization_id: int) -> dict[str, Any]:
        if organization_id not in self._server.organization_ids:
            raise NotFoundError(
                f"organization {organization_id} is not part of collaboration "
                f"{self._server.collaboration_id}"
            )
        return self._server.organization_json(organization_id)

    def get_collaboration(self) -> dict[str, Any]:
        return self._server.collaboration_json()

    def get_studies(self) -> list[dict[str, Any]]:
        return []  # a MockNetwork's collaboration has no studies

    def get_study(self, study_id: int) -> dict[str, Any]:
        raise NotFoundError(
            f"study {study_id} does not exist: a MockNetwork's collaboration has no studies")

    def _visible_task(self, task_id: int) -> TaskRecord:
        return self._server.visible_task(
            task_id, self.parent.job_id if self.parent is not None else None)
