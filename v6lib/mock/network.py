"""``MockNetwork``: a whole federation in one process, for developing and testing algorithms.

It is production code on in-memory backends: every run goes through the real wrapper
(``dispatch``, decorators, data sources), the real serialization and, when asked, the
real encryption with one key per organization; central functions get the real
``AlgorithmClient`` over :class:`~v6lib.mock.api.MockAlgorithmApi`. Only the server
(an in-memory task store) and the container runtime (a thread per run) are swapped.

Example::

    with MockNetwork(v6_average, ["a.csv", "b.csv", "c.csv"]) as network:
        [result] = network.run("central_average", kwargs={"column": "age"})
"""

from __future__ import annotations

import copy
import importlib
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from v6lib import serialization
from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.crypto import TaskBinding
from v6lib.errors import AlgorithmError, ConfigurationError, ValidationError
from v6lib.mock.api import MockAlgorithmApi, database_requests
from v6lib.mock.codec import MockKeyring
from v6lib.mock.container import MockContainers
from v6lib.mock.datasets import OrganizationData, normalize_datasets
from v6lib.mock.runtime import execute_run
from v6lib.mock.store import MOCK_IMAGE, RunRecord, TaskRecord, TaskStore
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.context import RunMetadata
from v6lib.wrappers.decorators import registry
from v6lib.wrappers.runner import failure_log, resolve_method

__all__ = ["MockNetwork"]

FailureSpec = BaseException | type[BaseException]


class MockNetwork:
    """N organizations with their data, an in-memory server and in-process nodes.

    Args:
        module: the algorithm package (module object or importable name).
        datasets: one entry per organization; see :mod:`v6lib.mock.datasets` for the
            forms (DataFrame, path, ``{"uri", "type", "query"?}``, or several labelled).
        collaboration_id: id of the one collaboration all organizations are in.
        organization_ids: ids of the organizations, in dataset order (default 1..n).
        sequential: run the runs of a task one after another, in the thread that created
            the task (breakpoints and ``pdb`` work); by default they run concurrently.
        max_workers: threads per task (default: ``min(32, cpus + 4)``, at most one per run).
        encrypted: seal inputs and results per organization, as an encrypted
            collaboration does (2048-bit RSA keys, generated once per network).
        failures: ``{organization_id: exception}`` to raise instead of running any
            *partial* (non-central) method at that organization, to test failure handling.
        researcher_organization_id: the organization of the simulated researcher, who
            creates top-level tasks and reads their results (default: the first one).

        cache_data: keep each organization's loaded frames for later runs (the default;
            iterative algorithms read their data once instead of every round). Off, every
            run reads its files again and nothing stays in memory between runs: cheaper
            for a single pass over large data.
        sandbox: refuse in a run what a container cannot do (read another organization's
            data, write outside the run's folders, use the network); see
            :mod:`v6lib.mock.sandbox`. None (the default) means on unless the environment
            variable ``V6_MOCK_SANDBOX`` is ``off``; ``False`` turns it off for debugging.

    Each run sees what a container sees (:mod:`v6lib.mock.container`): the contract's
    variables in ``os.environ``, its input, token and output files in its own folder,
    and the job's temporary folder.

    Input frames are loaded once per organization and shared between runs without a
    copy: algorithms must not modify them in place.
    """

    def __init__(
        self,
        module: ModuleType | str,
        datasets: Sequence[Any],
        *,
        collaboration_id: int = 1,
        organization_ids: Sequence[int] | None = None,
        sequential: bool = False,
        max_workers: int | None = None,
        encrypted: bool = False,
        failures: Mapping[int, FailureSpec] | None = None,
        researcher_organization_id: int | None = None,
        cache_data: bool = True,
        sandbox: bool | None = None,
    ) -> None:
        self.module = importlib.import_module(module) if isinstance(module, str) else module
        self.organizations: dict[int, OrganizationData] = normalize_datasets(
            datasets, organization_ids, cache=cache_data
        )
        self.organization_ids = list(self.organizations)
        self.collaboration_id = collaboration_id
        self.sequential = sequential
        if max_workers is not None and max_workers < 1:
            raise ConfigurationError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.failures = self._check_failures(failures or {})
        self.researcher_organization_id = self._check_member(
            researcher_organization_id or self.organization_ids[0], "researcher_organization_id"
        )
        self.codec = MockKeyring(self.organization_ids, encrypted=encrypted)
        self.store = TaskStore()
        self._researcher_api = MockAlgorithmApi(
            self, organization_id=self.researcher_organization_id
        )
        self._executors: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self.containers = MockContainers(self.organizations, self.module.__name__,
                                         sandbox=sandbox)

    # ------------------------------------------------------------------ researcher side

    def run(
        self,
        method: str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        organizations: Sequence[int] | None = None,
        databases: Sequence[str | Mapping[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """Create a top-level task as a researcher would, wait, and return its results in
        the order of ``organizations``.

        ``organizations`` defaults to the researcher's organization for a central
        function (one decorated with ``@algorithm_client``) and to every organization
        otherwise. ``databases`` are labels (or ``{"label", "query"}``); by default every
        database of the first organization, in the order given.

        Raises:
            AlgorithmError: a run did not complete; names each failed organization and
                carries its full log (with the original traceback).
        """
        task = self.create_task(
            method, args=args, kwargs=kwargs, organizations=organizations, databases=databases
        )
        return self.wait_for_results(task["id"], timeout=timeout)

    def create_task(
        self,
        method: str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        organizations: Sequence[int] | None = None,
        databases: Sequence[str | Mapping[str, Any]] | None = None,
        name: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """Create a top-level task and return it at once (the server's JSON shape)."""
        input_ = {"method": method, "args": list(args), "kwargs": dict(kwargs or {})}
        task_input = self._validate_input(input_)
        if organizations is None:
            central = self._is_central(task_input)
            organizations = [self.researcher_organization_id] if central else self.organization_ids
        requests = None if databases is None else database_requests(databases)
        return self._researcher_api.create_task(
            name=name or method,
            description=description,
            organizations=list(organizations),
            input_=input_,
            databases=requests,
        )

    def wait_for_results(self, task_id: int, timeout: float | None = None) -> list[Any]:
        """Wait for every run of ``task_id``; their results in creation order.

        Raises:
            AlgorithmError: a run did not complete (or ``timeout`` passed first).
        """
        finished = self.store.wait(task_id, timeout)
        runs = self.runs(task_id)
        if not finished:
            states = ", ".join(
                f"organization {r['organization_id']} is {r['status']}"
                for r in runs
                if not RunStatus(r["status"]).is_terminal
            )
            raise AlgorithmError(
                f"task {task_id} did not finish within {timeout} s: {states}",
                details={"task_id": task_id},
            )
        failed = [r for r in runs if r["status"] != RunStatus.COMPLETED.value]
        if failed:
            reports = "\n".join(
                f"--- organization {r['organization_id']} ({r['status']}):\n{r['log'].rstrip()}"
                for r in failed
            )
            raise AlgorithmError(
                f"{len(failed)} of {len(runs)} run(s) of task {task_id} did not complete "
                f"(organization(s) {', '.join(str(r['organization_id']) for r in failed)}):\n"
                f"{reports}",
                details={
                    "task_id": task_id,
                    "failed_organizations": [r["organization_id"] for r in failed],
                },
            )
        return [r["result"] for r in runs]

    def runs(self, task_id: int) -> list[dict[str, Any]]:
        """Every run of the task (organization_id, status, result, log, ...), as the
        researcher sees them.

        In an encrypted network a result is sealed for the organization that created the
        task, so the researcher can open the results of top-level tasks (and of subtasks
        created at the researcher's organization) only, as in production; the raw runs
        are in ``network.store``.
        """
        return self._researcher_api.get_runs(task_id)

    def algorithm_client(self) -> AlgorithmClient:
        """An AlgorithmClient acting as the researcher (``client.task.create``, ...)."""
        metadata = RunMetadata(
            organization_id=self.researcher_organization_id, collaboration_id=self.collaboration_id
        )
        return AlgorithmClient(self._researcher_api, metadata)

    # ------------------------------------------------------------------ server side

    def submit(
        self,
        *,
        name: str,
        description: str,
        organizations: Sequence[int],
        input_: Mapping[str, Any],
        databases: list[dict[str, Any]] | None,
        init_org_id: int,
        parent: TaskRecord | None,
    ) -> TaskRecord:
        """Store a task with a run per organization and start the runs (the server's and
        the nodes' part of ``POST /task``)."""
        orgs = list(organizations)
        strangers = [org for org in orgs if org not in self.organizations]
        if not orgs or strangers or len(set(orgs)) != len(orgs):
            raise ValidationError(
                f"organizations must be distinct members of collaboration "
                f"{self.collaboration_id} ({self.organization_ids}); got {orgs}"
            )
        self._validate_input(input_)
        raw = serialization.dumps(dict(input_), root="input")
        if databases is None:
            databases = (
                parent.databases
                if parent is not None
                else [{"label": label} for label in self.organizations[orgs[0]].labels]
            )
        uid = TaskStore.new_uid()
        binding = TaskBinding(uid, MOCK_IMAGE, init_org_id)
        inputs = {
            org: self.codec.encode_input(raw, task=binding, organization_id=org) for org in orgs
        }
        task, runs = self.store.add_task(
            name=name,
            description=description,
            collaboration_id=self.collaboration_id,
            init_org_id=init_org_id,
            parent=parent,
            databases=database_requests(databases),
            inputs=inputs,
            uid=uid,
        )
        self._start(task, runs)
        return task

    def _start(self, task: TaskRecord, runs: list[RunRecord]) -> None:
        if self.sequential:
            for run in runs:
                execute_run(self, task, run)
            return
        # NOTE: one pool per task, so a central run waiting for its subtask never holds
        # a worker the subtask's runs need (no deadlock however deep the nesting).
        executor = ThreadPoolExecutor(
            max_workers=min(self.max_workers, len(runs)), thread_name_prefix=f"v6mock-task{task.id}"
        )
        with self._lock:
            self._executors.append(executor)
        for run in runs:
            future = executor.submit(execute_run, self, task, run)
            future.add_done_callback(lambda f, run=run: self._crashed(f, run))
        executor.shutdown(wait=False)

    def _crashed(self, future: Future[None], run: RunRecord) -> None:
        exc = future.exception()
        if exc is None or run.status.is_terminal:
            return
        status = RunStatus.CRASHED if run.status is RunStatus.ACTIVE else RunStatus.START_FAILED
        self.store.transition(run, status, log=failure_log(exc))

    # ------------------------------------------------------------------ node side

    def raise_injected_failure(self, organization_id: int, task_input: TaskInput) -> None:
        """Raise the failure configured for ``organization_id`` if this is a partial run."""
        failure = self.failures.get(organization_id)
        if failure is None or self._is_central(task_input):
            return
        if isinstance(failure, type):
            raise failure(f"failure injected at organization {organization_id}")
        raise copy.copy(failure)

    def temporary_folder(self, job_id: int, organization_id: int) -> Path:
        """The folder shared by the runs of one job at one organization."""
        return self.containers.temporary_folder(job_id, organization_id)

    def organization_dict(self, organization_id: int) -> dict[str, Any]:
        return {
            "id": organization_id,
            "name": f"organization {organization_id}",
            "domain": None,
            "country": None,
            "public_key": self.codec.public_key(organization_id),
        }

    def collaboration_dict(self) -> dict[str, Any]:
        return {
            "id": self.collaboration_id,
            "name": f"collaboration {self.collaboration_id}",
            "encrypted": self.codec.encrypted,
            "organization_ids": list(self.organization_ids),
        }

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Wait for runs still going and remove the run folders."""
        with self._lock:
            executors, self._executors = self._executors, []
        for executor in executors:
            executor.shutdown(wait=True)
        self.containers.close()

    def __enter__(self) -> MockNetwork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ checks

    def _is_central(self, task_input: TaskInput) -> bool:
        function, style = resolve_method(self.module, task_input)
        return style == "legacy_central" or registry.needs_client(function)

    def _validate_input(self, input_: Mapping[str, Any]) -> TaskInput:
        try:
            task_input = TaskInput.model_validate(dict(input_))
        except ValueError as exc:
            raise ValidationError(f"not a valid task input: {exc}") from None
        resolve_method(self.module, task_input)  # unknown method: AlgorithmError now
        return task_input

    def _check_member(self, organization_id: int, what: str) -> int:
        if organization_id not in self.organizations:
            raise ConfigurationError(
                f"{what} {organization_id} is not one of the organizations {self.organization_ids}"
            )
        return organization_id

    def _check_failures(self, failures: Mapping[int, FailureSpec]) -> dict[int, FailureSpec]:
        for org, failure in failures.items():
            self._check_member(org, "failures key")
            if not (
                isinstance(failure, BaseException)
                or (isinstance(failure, type) and issubclass(failure, BaseException))
            ):
                raise ConfigurationError(
                    f"failures[{org}] must be an exception or exception class, got {failure!r}"
                )
        return dict(failures)
