"""The client a central function uses to create subtasks and collect their results.

Shaped like vantage6 v4's algorithm client (``client.task.create``,
``client.wait_for_results``, ``client.result.from_task``, ...). It works over any
:class:`~v6lib.client.algorithm_api.AlgorithmApi`: HTTP through the node proxy in a
container, or the MockNetwork's in-process implementation in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from v6lib.errors import AlgorithmError, ValidationError
from v6lib.rules.failures import failure_error, outcome_of
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task_call import parse_task_call

if TYPE_CHECKING:
    from v6lib.client.algorithm_api import AlgorithmApi
    from v6lib.schemas.task_input import TaskInput
    from v6lib.wrappers.metadata import RunMetadata

__all__ = [
    "AlgorithmClient",
    "CollaborationSubClient",
    "OrganizationSubClient",
    "ResultSubClient",
    "RunSubClient",
    "StudySubClient",
    "TaskSubClient",
]

LEGACY_WAIT = 1.0  # seconds get_task() holds, so legacy polling loops stay cheap


def _input_dict(input_: Mapping[str, Any] | TaskInput) -> dict[str, Any]:
    # NOTE: checked with the plain-Python rules shared with TaskInput, so a central
    # function creating subtasks does not pay pydantic's import in its container.
    if not isinstance(input_, Mapping) and hasattr(input_, "method"):  # a TaskInput
        input_ = {"method": input_.method, "args": list(input_.args),
                  "kwargs": dict(input_.kwargs), "master": bool(input_.master)}
    call = parse_task_call(dict(input_) if isinstance(input_, Mapping) else input_,
                           "subtask input")
    body: dict[str, Any] = {"method": call.method, "args": list(call.args),
                            "kwargs": call.kwargs}
    if call.master:
        body["master"] = True
    return body


def _organization_ids(organizations: Iterable[int]) -> list[int]:
    ids = list(organizations)
    if not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError(
            f"organizations must be a non-empty list of organization ids, got {ids!r}"
        )
    return ids


class TaskSubClient:
    """``client.task``: create subtasks and look at them."""

    def __init__(self, parent: AlgorithmClient) -> None:
        self._parent = parent

    def get(self, task_id: int) -> dict[str, Any]:
        """The task as the server has it now (its ``status`` included), without waiting."""
        return self._parent.api.wait_for_task(task_id, 0)

    def create(
        self,
        input_: Mapping[str, Any] | TaskInput,
        organizations: Iterable[int],
        name: str = "subtask",
        description: str = "",
        databases: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create a subtask running ``input_['method']`` at each organization.

        Args:
            input_: ``{"method": ..., "args": [...], "kwargs": {...}}``.
            organizations: organization ids, one run each; results come back in this order.
            databases: ``[{"label": ..., "query": ...}]``; None lets the server apply its
                default (the parent task's databases).

        Returns:
            The created task (its ``id`` is what ``wait_for_results`` takes).
        """
        org_ids = _organization_ids(organizations)
        task = self._parent.api.create_task(
            name=name, description=description, organizations=org_ids,
            input_=_input_dict(input_), databases=databases,
        )
        if "id" in task:
            self._parent._remember_order(int(task["id"]), org_ids)
        return task


class RunSubClient:
    """``client.run``: every run of a task, failures included."""

    def __init__(self, parent: AlgorithmClient) -> None:
        self._parent = parent

    def get(self, id_: int) -> dict[str, Any]:
        """One run (organization_id, status, result, log), of a task of this job."""
        return self._parent.api.get_run(id_)

    def from_task(self, task_id: int) -> list[dict[str, Any]]:
        """The runs of ``task_id`` (organization_id, status, result, log), in the order
        the organizations were given when the task was created."""
        return self._parent._ordered_runs(task_id)


class ResultSubClient:
    """``client.result``: results of the completed runs of a task."""

    def __init__(self, parent: AlgorithmClient) -> None:
        self._parent = parent

    def get(self, id_: int) -> Any:
        """The result of run ``id_`` (a result's id is its run's, as in vantage6); None
        while the run has none."""
        return self._parent.api.get_run(id_).get("result")

    def from_task(self, task_id: int) -> list[Any]:
        """Results of the runs that completed (failed runs are left out)."""
        return [run.get("result") for run in self._parent._ordered_runs(task_id)
                if run.get("status") == RunStatus.COMPLETED.value]


class OrganizationSubClient:
    """``client.organization``: organizations of the run's collaboration."""

    def __init__(self, parent: AlgorithmClient) -> None:
        self._parent = parent

    def list(self) -> list[dict[str, Any]]:
        return self._parent.api.get_organizations()

    def get(self, organization_id: int) -> dict[str, Any]:
        return self._parent.api.get_organization(organization_id)


class CollaborationSubClient:
    """``client.collaboration``: the run's collaboration."""

    def __init__(self, parent: AlgorithmClient) -> None:
        self._parent = parent

    def get(self) -> dict[str, Any]:
        return self._parent.api.get_collaboration()


class StudySubClient:
    """``client.study``: the studies (subsets of organizations) of the run's collaboration."""

    def __init__(self, parent: AlgorithmClient) -> None:
        self._parent = parent

    def list(self) -> list[dict[str, Any]]:
        return self._parent.api.get_studies()

    def get(self, id_: int) -> dict[str, Any]:
        return self._parent.api.get_study(id_)


class AlgorithmClient:
    """Create subtasks and collect their results from inside a central function.

    Args:
        api: anything satisfying :class:`~v6lib.client.algorithm_api.AlgorithmApi`.
        metadata: the run's ids (task, organization, collaboration, ...).
    """

    def __init__(self, api: AlgorithmApi, metadata: RunMetadata) -> None:
        self.api = api
        self.metadata = metadata
        self._order: dict[int, list[int]] = {}
        self.task = TaskSubClient(self)
        self.run = RunSubClient(self)
        self.result = ResultSubClient(self)
        self.organization = OrganizationSubClient(self)
        self.collaboration = CollaborationSubClient(self)
        self.study = StudySubClient(self)

    @property
    def organization_id(self) -> int | None:
        """The organization this run executes at."""
        return self.metadata.organization_id

    @property
    def collaboration_id(self) -> int | None:
        return self.metadata.collaboration_id

    @property
    def task_id(self) -> int | None:
        """The task this run belongs to (the parent of the subtasks it creates)."""
        return self.metadata.task_id

    @property
    def node_id(self) -> int | None:
        """The node this run executes on."""
        return self.metadata.node_id

    @property
    def image(self) -> str | None:
        """The algorithm image of this run, which its subtasks use too."""
        return self.metadata.image

    @property
    def study_id(self) -> int | None:
        """The study the task was created for, if any."""
        return self.metadata.study_id

    @property
    def databases(self) -> list[dict[str, Any]]:
        """The databases the task asked for (``label``, ``query``, ...), in its order."""
        return [dict(db) for db in self.metadata.databases]

    def wait_for_results(self, task_id: int, timeout: float | None = None,
                         interval: float | None = None) -> list[Any]:
        """Wait until every run of ``task_id`` finished and return their results, in the
        order the organizations were given when the task was created.

        ``interval`` is accepted for vantage6 compatibility and ignored: the wait is a
        long-poll that the server ends when the task finishes, not a polling loop.

        Raises:
            AlgorithmError: a run did not complete (the first line names the failing
                organization and its reason; see :mod:`v6lib.rules.failures`), or
                ``timeout`` passed first.
        """
        self.api.wait_for_task(task_id, timeout)
        runs = self._ordered_runs(task_id)
        unfinished = [r for r in runs if not _is_terminal(r.get("status"))]
        if unfinished:
            states = ", ".join(f"organization {r.get('organization_id')} is "
                               f"{r.get('status')}" for r in unfinished)
            raise AlgorithmError(
                f"task {task_id} did not finish within {timeout} s: {states}",
                details={"task_id": task_id},
            )
        outcomes = [outcome_of(r, r.get("result")) for r in runs]
        if any(not o.ok for o in outcomes):
            raise failure_error(task_id, outcomes)
        return [o.result for o in outcomes]

    # -- the vantage6 v3 container-client names, for legacy ``master`` functions --------

    def create_new_task(self, input_: Mapping[str, Any], organization_ids: Iterable[int],
                        name: str = "subtask", description: str = "") -> dict[str, Any]:
        """Legacy name of :meth:`TaskSubClient.create`."""
        return self.task.create(input_, organization_ids, name=name, description=description)

    def get_task(self, task_id: int) -> dict[str, Any]:
        """The task with a legacy ``complete`` flag. Waits up to a second for it to finish,
        so the legacy ``while not complete: sleep`` loop does not hammer the server."""
        task = dict(self.api.wait_for_task(task_id, LEGACY_WAIT))
        runs = self.api.get_runs(task_id)
        task["complete"] = bool(runs) and all(_is_terminal(r.get("status")) for r in runs)
        return task

    def get_results(self, task_id: int) -> list[Any]:
        """Legacy name of :meth:`ResultSubClient.from_task` (completed runs only)."""
        return self.result.from_task(task_id)

    def get_organizations_in_my_collaboration(self) -> list[dict[str, Any]]:
        """Legacy name of :meth:`OrganizationSubClient.list`."""
        return self.organization.list()

    def _remember_order(self, task_id: int, organizations: list[int]) -> None:
        self._order[task_id] = organizations

    def _ordered_runs(self, task_id: int) -> list[dict[str, Any]]:
        runs = list(self.api.get_runs(task_id))
        order = self._order.get(task_id)
        if not order:
            return runs
        position: dict[object, int] = {org: i for i, org in enumerate(order)}
        return sorted(runs, key=lambda r: position.get(r.get("organization_id"), len(order)))


def _is_terminal(status: object) -> bool:
    try:
        return RunStatus(str(status)).is_terminal
    except ValueError:
        return False
