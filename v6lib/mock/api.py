"""``MockAlgorithmApi``: the AlgorithmApi of one run (or of the researcher), in process.

It answers what the server answers through the node proxy: a run's api creates subtasks
in its own job, reads only its own job's runs, and opens results with its own
organization's key. The real :class:`~v6lib.client.algorithm_client.AlgorithmClient`
sits on top of it, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from v6lib.errors import NotFoundError, ValidationError
from v6lib.mock.store import MOCK_IMAGE

if TYPE_CHECKING:
    from v6lib.mock.network import MockNetwork
    from v6lib.mock.store import RunRecord, TaskRecord

__all__ = ["MockAlgorithmApi", "database_requests", "run_dict", "task_dict"]


def database_requests(databases: Sequence[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A task's ``databases`` as the server stores them: ``[{"label", "query"?}]``."""
    requests = []
    for database in databases:
        if isinstance(database, str):
            requests.append({"label": database})
        elif isinstance(database, Mapping) and isinstance(database.get("label"), str):
            requests.append(
                {
                    "label": database["label"],
                    **({"query": database["query"]} if database.get("query") else {}),
                }
            )
        else:
            raise ValidationError(
                f"databases must be labels or {{'label': str, 'query'?: str}}, got {database!r}"
            )
    return requests


def task_dict(task: TaskRecord, status: str) -> dict[str, Any]:
    """A task in the server's JSON shape."""
    return {
        "id": task.id,
        "uid": task.uid,
        "name": task.name,
        "description": task.description,
        "image": MOCK_IMAGE,
        "collaboration_id": task.collaboration_id,
        "study_id": None,
        "init_org_id": task.init_org_id,
        "init_user_id": None,
        "parent_id": task.parent_id,
        "job_id": task.job_id,
        "databases": [dict(db) for db in task.databases],
        "status": status,
        "created_at": task.created_at,
    }


def run_dict(run: RunRecord, result: Any) -> dict[str, Any]:
    """A run in the server's JSON shape, its result already decoded."""
    return {
        "id": run.id,
        "task_id": run.task_id,
        "organization_id": run.organization_id,
        "status": run.status.value,
        "result": result,
        "log": run.log,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


class MockAlgorithmApi:
    """:class:`~v6lib.client.algorithm_api.AlgorithmApi` over a :class:`MockNetwork`.

    Args:
        network: the network whose tasks and organizations this api sees.
        organization_id: where the caller runs (the researcher's organization for the
            top-level api); results are opened with this organization's key.
        parent: the task of the calling run; None for the researcher, who may create
            top-level tasks and read any task of the collaboration.
    """

    def __init__(
        self, network: MockNetwork, *, organization_id: int, parent: TaskRecord | None = None
    ) -> None:
        self._network = network
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
        task = self._network.submit(
            name=name,
            description=description,
            organizations=organizations,
            input_=input_,
            databases=databases,
            init_org_id=self.organization_id,
            parent=self.parent,
        )
        return task_dict(task, self._network.store.status(task.id))

    def wait_for_task(self, task_id: int, timeout: float | None) -> dict[str, Any]:
        task = self._visible_task(task_id)
        self._network.store.wait(task_id, timeout)
        return task_dict(task, self._network.store.status(task_id))

    def get_runs(self, task_id: int) -> list[dict[str, Any]]:
        task = self._visible_task(task_id)
        codec = self._network.codec
        return [
            run_dict(
                run,
                codec.decode_result(
                    run.result,
                    task=task.binding,
                    organization_id=run.organization_id,
                    reader_id=self.organization_id,
                ),
            )
            for run in self._network.store.runs(task_id)
        ]

    def get_organizations(self) -> list[dict[str, Any]]:
        return [self._network.organization_dict(org) for org in self._network.organization_ids]

    def get_organization(self, organization_id: int) -> dict[str, Any]:
        if organization_id not in self._network.organization_ids:
            raise NotFoundError(
                f"organization {organization_id} is not part of collaboration "
                f"{self._network.collaboration_id}"
            )
        return self._network.organization_dict(organization_id)

    def get_collaboration(self) -> dict[str, Any]:
        return self._network.collaboration_dict()

    def _visible_task(self, task_id: int) -> TaskRecord:
        task = self._network.store.task(task_id)
        if self.parent is not None and task.job_id != self.parent.job_id:
            # NOTE: NotFoundError, as the server answers 404 for what a caller may not see.
            raise NotFoundError(
                f"task {task_id} belongs to job {task.job_id}; a run of job "
                f"{self.parent.job_id} may only read its own job's tasks"
            )
        return task
