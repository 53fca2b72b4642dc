"""The MockNetwork's nodes: each run executed in process, as a node and its container would.

The steps mirror production: the node checks the run against its policy with the node's
own rule (:func:`v6lib.rules.node_policy.evaluate`; a database label it lacks ends the run
``not allowed`` with the same reason); the wrapper decodes the (sealed) input, builds the
run's context and dispatches through :func:`v6lib.wrappers.dispatch.dispatch`; the result
is serialized by the entrypoint's own :func:`~v6lib.wrappers.runner.encode_result` and
checked with the node's disclosure rule (:func:`v6lib.rules.disclosure.check_output`)
before it is sealed; a failure is reported by its
:func:`~v6lib.wrappers.runner.failure_reason` (the run's reason) and
:func:`~v6lib.wrappers.runner.failure_log`, so mock and container runs fail with the same
words by construction. Runs of one task run in a thread pool of
their own; only Docker is swapped out.

Each run gets a container's view (:mod:`v6lib.mock.container`): its folder with the
input, token and output files, the contract's environment in ``os.environ``, and the
sandbox. The in-process server api and the data the node serves work outside the run.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from v6lib import serialization
from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.config.node import NodePolicies
from v6lib.errors import ConflictError
from v6lib.mock.api import MockAlgorithmApi, Submit
from v6lib.mock.container import MockContainers
from v6lib.mock.datasets import MEMORY_TYPE, OrganizationData
from v6lib.mock.progress import MockProgress
from v6lib.mock.run_scope import host_side
from v6lib.mock.server import MockServer
from v6lib.mock.store import RunRecord, TaskRecord
from v6lib.rules.disclosure import ROW_COUNTED_TYPES, check_output
from v6lib.rules.failures import without_tracebacks
from v6lib.rules.node_policy import NodePolicy, RunRequest, evaluate
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.context import AlgorithmContext
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.dispatch import dispatch
from v6lib.wrappers.runner import encode_result, failure_log, failure_reason

__all__ = ["FailureSpec", "MockNodes"]

FailureSpec = BaseException | type[BaseException]


def _databases(data: OrganizationData, requested: list[dict[str, Any]]) -> list[DatabaseSpec]:
    """The run's databases in the requested order (the policy made sure they exist)."""
    specs = []
    for database in requested:
        spec = data.spec(str(database.get("label")))
        assert spec is not None
        query = database.get("query")
        specs.append(
            spec if query is None else DatabaseSpec(spec.label, spec.uri, spec.type, query))
    return specs


class MockNodes:
    """One in-process node per organization of a ``MockNetwork``.

    Args:
        server: the in-memory server (tasks, runs, keys).
        module: the algorithm package every run executes.
        organizations: each organization's data, by id.
        submit: how a central run's subtasks are created (``MockNetwork.submit``).
        is_central: whether a task input calls a central function.
        sequential: run a task's runs one after another in the calling thread.
        max_workers: threads per task.
        failures: ``{organization_id: exception}`` raised instead of any partial method.
        sandbox: cage the runs (see :mod:`v6lib.mock.sandbox`); None reads
            ``V6_MOCK_SANDBOX``.
        policies: each organization's node policies (the node configuration's
            ``policies`` section); an organization without an entry allows everything.
        share_tracebacks: the nodes' ``share_algorithm_tracebacks``: a failed run's log
            keeps its traceback; without it the traceback is withheld as a node does.
    """

    def __init__(self, server: MockServer, module: ModuleType,
                 organizations: Mapping[int, OrganizationData], *, submit: Submit,
                 is_central: Callable[[TaskInput], bool], sequential: bool,
                 max_workers: int, failures: Mapping[int, FailureSpec],
                 sandbox: bool | None = None,
                 policies: Mapping[int, NodePolicies] | None = None,
                 share_tracebacks: bool = False) -> None:
        self.server = server
        self.module = module
        self.organizations = organizations
        self._submit = submit
        self._is_central = is_central
        self.sequential = sequential
        self.max_workers = max_workers
        self.failures = dict(failures)
        self.policies = dict(policies or {})
        self.share_tracebacks = share_tracebacks
        self._executors: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self.containers = MockContainers(organizations, module.__name__, sandbox=sandbox)
        self.progress = MockProgress(server.store, self._messages_allowed)

    def _messages_allowed(self, organization_id: int) -> bool:
        configured = self.policies.get(organization_id)
        return configured is not None and configured.allow_progress_messages

    def policy(self, organization_id: int) -> NodePolicy:
        """What the organization's node allows: its database labels, the network's
        encryption and the images, organizations and users of its policies."""
        data = self.organizations[organization_id]
        configured = self.policies.get(organization_id) or NodePolicies()
        return NodePolicy(node_name=f"organization {organization_id}",
                          database_labels=frozenset(data.labels),
                          encryption_enabled=self.server.keyring.encrypted,
                          allowed_images=tuple(configured.allowed_images),
                          allowed_algorithms=tuple(configured.allowed_algorithms),
                          allowed_organizations=frozenset(
                              configured.allowed_organizations or ()),
                          allowed_users=frozenset(configured.allowed_users or ()))

    def disclosure_refusal(self, task: TaskRecord, run: RunRecord, raw: bytes) -> str | None:
        """Why the organization's node would keep ``raw`` (the node's own rule), or None.

        Rows are counted for every database of the organization whose type a node counts
        (and for in-memory frames, which stand for files), as the node does.
        """
        configured = self.policies.get(run.organization_id)
        if configured is None:
            return None
        policy = configured.disclosure.rules().for_image(task.image)
        if not policy.active:
            return None
        rows: tuple[int, ...] = ()
        if policy.refuse_row_level:
            data = self.organizations[run.organization_id]
            specs = [spec for label in data.labels if (spec := data.spec(label)) is not None
                     and spec.type in ROW_COUNTED_TYPES | {MEMORY_TYPE}]
            rows = tuple(len(host_side(data.load)(spec, None)) for spec in specs)
        return check_output(policy, raw, input_rows=rows).reason

    # -- starting -----------------------------------------------------------------------
    def start(self, task: TaskRecord, runs: list[RunRecord]) -> None:
        """Start the task's runs (concurrently, unless sequential)."""
        if self.sequential:
            for run in runs:
                self.execute(task, run)
            return
        # NOTE: one pool per task, so a central run waiting for its subtask never holds
        # a worker the subtask's runs need (no deadlock however deep the nesting).
        executor = ThreadPoolExecutor(
            max_workers=min(self.max_workers, len(runs)),
            thread_name_prefix=f"v6mock-task{task.id}")
        with self._lock:
            self._executors.append(executor)
        for run in runs:
            future = executor.submit(self.execute, task, run)
            future.add_done_callback(functools.partial(self._crashed, run=run))
        executor.shutdown(wait=False)

    def _crashed(self, future: Future[None], run: RunRecord) -> None:
        exc = future.exception()
        if exc is None or run.status.is_terminal:
            return
        status = RunStatus.CRASHED if run.status is RunStatus.ACTIVE else RunStatus.START_FAILED
        self.server.store.transition(run, status, log=self._shared_log(exc),
                                     reason=failure_reason(exc))

    def _shared_log(self, exc: BaseException) -> str:
        """A failed run's log as the node would share it (see ``share_tracebacks``)."""
        log = failure_log(exc)
        return log if self.share_tracebacks else without_tracebacks(log)

    # -- one run ------------------------------------------------------------------------
    def execute(self, task: TaskRecord, run: RunRecord) -> None:
        """Take ``run`` from pending to a terminal status. Never raises for algorithm errors."""
        try:
            self._execute(task, run)
        except ConflictError:
            if run.status is not RunStatus.KILLED:
                raise
            # NOTE: killed meanwhile; a thread cannot be stopped, but its outcome is
            # dropped, as the server drops what a killed container sends afterwards.

    def _execute(self, task: TaskRecord, run: RunRecord) -> None:
        server = self.server
        store = server.store
        store.transition(run, RunStatus.INITIALIZING)
        decision = evaluate(self.policy(run.organization_id), RunRequest(
            image=task.image, database_labels=[str(d.get("label")) for d in task.databases],
            collaboration_id=task.collaboration_id,
            collaboration_encrypted=server.keyring.encrypted, init_org_id=task.init_org_id))
        if not decision.allowed:
            store.transition(run, RunStatus.NOT_ALLOWED, reason=decision.reason)
            return
        data = self.organizations[run.organization_id]
        store.transition(run, RunStatus.ACTIVE)
        try:
            raw = self._run_algorithm(task, run, data)
            refusal = self.disclosure_refusal(task, run, raw)
            if refusal is None:
                blob = self.server.keyring.encode_result(
                    raw, task=task.binding, organization_id=run.organization_id)
        except (Exception, SystemExit) as exc:
            # NOTE: SystemExit too: in a container exit() ends the run, here it must not
            # end the developer's process (sequential mode runs in the caller's thread).
            store.transition(run, RunStatus.FAILED, log=self._shared_log(exc),
                             reason=failure_reason(exc))
            return
        if refusal is not None:
            store.transition(run, RunStatus.NOT_ALLOWED, reason=refusal, log="")
            return
        store.transition(run, RunStatus.COMPLETED, result=blob, log="")

    def _run_algorithm(self, task: TaskRecord, run: RunRecord, data: OrganizationData) -> bytes:
        """The run's output, as its container would write it (not yet sealed)."""
        keyring = self.server.keyring
        raw_input = keyring.open_input(run.input, task=task.binding,
                                       organization_id=run.organization_id)
        task_input = TaskInput.model_validate(serialization.loads(raw_input))
        specs = _databases(data, task.databases)
        with self.containers.start(task, run, raw_input, specs) as container:

            def client() -> AlgorithmClient:
                api = MockAlgorithmApi(self.server, self._submit,
                                       organization_id=run.organization_id, parent=task)
                return AlgorithmClient(host_side(api), container.metadata)

            context = AlgorithmContext(databases=container.databases,
                                       metadata=container.metadata, client_factory=client,
                                       data_loader=host_side(data.load),
                                       progress_sink=host_side(self.progress.sink(run)))
            self._raise_injected_failure(run.organization_id, task_input)
            with container.running():
                result = dispatch(self.module, task_input, context)
            raw = encode_result(result, f"{self.module.__name__}.{task_input.method}")
            container.write_output(raw)
        return raw

    def _raise_injected_failure(self, organization_id: int, task_input: TaskInput) -> None:
        failure = self.failures.get(organization_id)
        if failure is None or self._is_central(task_input):
            return
        if isinstance(failure, type):
            raise failure(f"failure injected at organization {organization_id}")
        raise copy.copy(failure)

    def temporary_folder(self, job_id: int, organization_id: int) -> Path:
        """The folder shared by the runs of one job at one organization."""
        return self.containers.temporary_folder(job_id, organization_id)

    def close(self) -> None:
        """Wait for runs still going and remove the run folders."""
        with self._lock:
            executors, self._executors = self._executors, []
        for executor in executors:
            executor.shutdown(wait=True)
        self.progress.close()
        self.containers.close()
