"""Execute one run in process: what a node and the container entrypoint do, minus Docker.

The steps mirror production: the node refuses a run whose database labels it lacks
(``not allowed``), the wrapper decodes the (sealed) input, builds the run's context and
dispatches through :func:`v6lib.wrappers.runner.dispatch`, the result is serialized by
the entrypoint's own :func:`~v6lib.wrappers.runner.encode_result` and a failure is logged
by its :func:`~v6lib.wrappers.runner.failure_log`, so mock and container runs fail with
the same words by construction.

Each run gets a container's view (:mod:`v6lib.mock.container`): its folder with the
input, token and output files, the contract's environment in ``os.environ``, and the
sandbox. The in-process server api and the data the node serves work outside the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from v6lib import serialization
from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.mock.api import MockAlgorithmApi
from v6lib.mock.run_scope import host_side
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.context import AlgorithmContext
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


def _result_blob(network: MockNetwork, task: TaskRecord, run: RunRecord, raw: bytes) -> bytes:
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
        raw_input = network.codec.open_input(
            run.input, task=task.binding, organization_id=run.organization_id
        )
        task_input = TaskInput.model_validate(serialization.loads(raw_input))
        with network.containers.start(task, run, raw_input, specs) as container:

            def client() -> AlgorithmClient:
                api = MockAlgorithmApi(network, organization_id=run.organization_id, parent=task)
                return AlgorithmClient(host_side(api), container.metadata)

            context = AlgorithmContext(
                databases=container.databases, metadata=container.metadata,
                client_factory=client, data_loader=host_side(data.load),
            )
            network.raise_injected_failure(run.organization_id, task_input)
            with container.running():
                result = dispatch(network.module, task_input, context)
            raw = encode_result(result, f"{network.module.__name__}.{task_input.method}")
            container.write_output(raw)
        blob = _result_blob(network, task, run, raw)
    except (Exception, SystemExit) as exc:
        # NOTE: SystemExit too: in a container exit() ends the run, here it must not end
        # the developer's process (sequential mode runs in the caller's thread).
        store.transition(run, RunStatus.FAILED, log=failure_log(exc))
        return
    store.transition(run, RunStatus.COMPLETED, result=blob, log="")
