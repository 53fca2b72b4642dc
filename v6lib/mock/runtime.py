"""Execute one run in process: what a node and the container entrypoint do, minus Docker.

The steps mirror production: the node refuses a run whose database labels it lacks
(``not allowed``), the wrapper decodes the (sealed) input, builds the run's context and
dispatches through :func:`v6lib.wrappers.runner.dispatch`, the result is serialized by
the entrypoint's own :func:`~v6lib.wrappers.runner.encode_result` and a failure is logged
by its :func:`~v6lib.wrappers.runner.failure_log`, so mock and container runs fail with
the same words by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.mock.api import MockAlgorithmApi
from v6lib.mock.store import MOCK_IMAGE
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.context import AlgorithmContext, RunMetadata
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.runner import dispatch, encode_result, failure_log

if TYPE_CHECKING:
    from v6lib.mock.datasets import OrganizationData
    from v6lib.mock.network import MockNetwork
    from v6lib.mock.store import RunRecord, TaskRecord

__all__ = ["execute_run"]


def _databases(
    data: OrganizationData, requested: list[dict[str, Any]]
) -> tuple[list[DatabaseSpec], str | None]:
    """The run's databases in the requested order, or the node's reason to refuse it."""
    specs = []
    for database in requested:
        label = str(database.get("label"))
        spec = data.spec(label)
        if spec is None:
            available = ", ".join(repr(x) for x in data.labels)
            return [], (
                f"database label {label!r} is not configured on node 'organization "
                f"{data.organization_id}' (it has {available})"
            )
        query = database.get("query")
        specs.append(
            spec if query is None else DatabaseSpec(spec.label, spec.uri, spec.type, query)
        )
    return specs, None


def _result_blob(
    network: MockNetwork, task: TaskRecord, run: RunRecord, task_input: TaskInput, result: Any
) -> bytes:
    raw = encode_result(result, f"{network.module.__name__}.{task_input.method}")
    return network.codec.encode_result(raw, task=task.binding,
                                       organization_id=run.organization_id)


def execute_run(network: MockNetwork, task: TaskRecord, run: RunRecord) -> None:
    """Take ``run`` from pending to a terminal status. Never raises for algorithm errors."""
    store = network.store
    data = network.organizations[run.organization_id]
    store.transition(run, RunStatus.INITIALIZING)
    specs, refusal = _databases(data, task.databases)
    if refusal is not None:
        store.transition(run, RunStatus.NOT_ALLOWED, log=refusal)
        return
    store.transition(run, RunStatus.ACTIVE)
    try:
        value = network.codec.decode_input(
            run.input, task=task.binding, organization_id=run.organization_id
        )
        task_input = TaskInput.model_validate(value)
        metadata = RunMetadata(
            task_id=task.id,
            organization_id=run.organization_id,
            collaboration_id=task.collaboration_id,
            run_id=run.id,
            job_id=task.job_id,
            node_id=run.organization_id,
            image=MOCK_IMAGE,
            temporary_folder=network.temporary_folder(task.job_id, run.organization_id),
        )

        def client() -> AlgorithmClient:
            api = MockAlgorithmApi(network, organization_id=run.organization_id, parent=task)
            return AlgorithmClient(api, metadata)

        context = AlgorithmContext(
            databases=specs, metadata=metadata, client_factory=client, data_loader=data.load
        )
        network.raise_injected_failure(run.organization_id, task_input)
        result = dispatch(network.module, task_input, context)
        blob = _result_blob(network, task, run, task_input, result)
    except (Exception, SystemExit) as exc:
        # NOTE: SystemExit too: in a container exit() ends the run, here it must not end
        # the developer's process (sequential mode runs in the caller's thread).
        store.transition(run, RunStatus.FAILED, log=failure_log(exc))
        return
    store.transition(run, RunStatus.COMPLETED, result=blob, log="")
