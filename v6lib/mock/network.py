"""``MockNetwork``: a whole federation in one process, for developing and testing algorithms.

It is production code on in-memory backends: every run goes through the real wrapper
(``dispatch``, decorators, data sources), the real serialization and, when asked, the
real encryption with one key per organization; central functions get the real
``AlgorithmClient`` over :class:`~v6lib.mock.api.MockAlgorithmApi`. Only storage and
the container runtime are swapped. Three parts, one job each: this module is the
researcher's side, :mod:`v6lib.mock.server` the server (production's rules on memory),
:mod:`v6lib.mock.runtime` the nodes (production's policy, a thread per run).

Example::

    with MockNetwork(v6_average, ["a.csv", "b.csv", "c.csv"]) as network:
        [result] = network.run("central_average", kwargs={"column": "age"})
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import pydantic

from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.config.node import NodePolicies
from v6lib.errors import AlgorithmError, ConfigurationError, ValidationError
from v6lib.image.lock import check_environment, lock_beside
from v6lib.mock.api import MockAlgorithmApi
from v6lib.mock.codec import MockKeyring
from v6lib.mock.datasets import OrganizationData, normalize_datasets
from v6lib.mock.runtime import FailureSpec, MockNodes
from v6lib.mock.server import MockServer
from v6lib.mock.store import TaskRecord
from v6lib.rules.failures import failure_error, outcome_of
from v6lib.rules.task_requests import normalize_databases
from v6lib.schemas.run_status import RunStatus
from v6lib.schemas.task_input import TaskInput
from v6lib.wrappers.decorators import registry
from v6lib.wrappers.dispatch import resolve_method
from v6lib.wrappers.metadata import RunMetadata
from v6lib.wrappers.runner import import_algorithm

__all__ = ["MockNetwork"]


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
        node_policies: ``{organization_id: policies}``, each the ``policies`` section of a
            node configuration (a mapping, or :class:`~v6lib.config.node.NodePolicies`):
            ``allowed_images``, ``allowed_organizations``, ``disclosure`` and the others
            apply as the organization's node applies them, so a result its disclosure
            rules refuse ends ``not allowed`` here too, with the node's reason.
        share_algorithm_tracebacks: the nodes' setting of that name. False (the default,
            as on a node) replaces a failed run's traceback in its log by one line, as a
            node's shared log; True keeps it (handy while debugging; so does
            ``sequential=True`` with a debugger).
        sandbox: refuse in a run what a container cannot do (read another organization's
            data, write outside the run's folders, use the network); see
            :mod:`v6lib.mock.sandbox`. None (the default) means on unless the environment
            variable ``V6_MOCK_SANDBOX`` is ``off``; ``False`` turns it off for debugging.
        image: the algorithm's image; its labels (``v6 algorithm build``) are compared
            with this environment's v6lib, pandas, numpy and pyarrow. Without it, the
            ``v6-image.lock`` next to the package is, when there is one. A difference is
            an :class:`~v6lib.image.lock.ImageMismatchWarning` naming both versions: this
            network's results then no longer predict the image's.

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
        image: str | None = None,
        node_policies: Mapping[int, Mapping[str, Any] | NodePolicies] | None = None,
        share_algorithm_tracebacks: bool = False,
    ) -> None:
        self.module = import_algorithm(module) if isinstance(module, str) else module
        check_environment(lock=lock_beside(self.module), image=image)
        self.organizations: dict[int, OrganizationData] = normalize_datasets(
            datasets, organization_ids, cache=cache_data
        )
        self.organization_ids = list(self.organizations)
        self.collaboration_id = collaboration_id
        if max_workers is not None and max_workers < 1:
            raise ConfigurationError(f"max_workers must be at least 1, got {max_workers}")
        self.researcher_organization_id = self._check_member(
            researcher_organization_id or self.organization_ids[0], "researcher_organization_id"
        )
        self.server = MockServer(self.organization_ids, collaboration_id,
                                 MockKeyring(self.organization_ids, encrypted=encrypted))
        self.nodes = MockNodes(
            self.server, self.module, self.organizations, submit=self.submit,
            is_central=self.is_central, sequential=sequential,
            max_workers=max_workers or min(32, (os.cpu_count() or 1) + 4),
            failures=self._check_failures(failures or {}), sandbox=sandbox,
            policies=self._check_policies(node_policies or {}),
            share_tracebacks=share_algorithm_tracebacks)
        self._researcher_api = MockAlgorithmApi(
            self.server, self.submit, organization_id=self.researcher_organization_id)

    @property
    def store(self) -> Any:
        """The in-memory tasks and runs (raw, sealed bytes), for tests that look inside."""
        return self.server.store

    @property
    def codec(self) -> MockKeyring:
        """The organizations' keys (used to open raw results in tests)."""
        return self.server.keyring

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
                carries its log (with the original traceback when
                ``share_algorithm_tracebacks``).
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
            central = self.is_central(task_input)
            organizations = [self.researcher_organization_id] if central else self.organization_ids
        return self._researcher_api.create_task(
            name=name or method,
            description=description,
            organizations=list(organizations),
            input_=input_,
            databases=None if databases is None else normalize_databases(databases),
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
        outcomes = [outcome_of(r, r["result"]) for r in runs]
        if any(not o.ok for o in outcomes):
            raise failure_error(task_id, outcomes)
        return [o.result for o in outcomes]

    def runs(self, task_id: int) -> list[dict[str, Any]]:
        """Every run of the task (organization_id, status, result, log, ...), as the
        researcher sees them.

        In an encrypted network a result is sealed for the organization that created the
        task, so the researcher can open the results of top-level tasks (and of subtasks
        created at the researcher's organization) only, as in production; the raw runs
        are in ``network.store``.
        """
        return self._researcher_api.get_runs(task_id)

    def kill_task(self, task_id: int) -> None:
        """Kill the task and its subtasks: their unfinished runs end "killed by user".

        A run's thread cannot be stopped in process; what it returns later is dropped.
        """
        self.server.kill_task(task_id)

    def algorithm_client(self) -> AlgorithmClient:
        """An AlgorithmClient acting as the researcher (``client.task.create``, ...)."""
        metadata = RunMetadata(
            organization_id=self.researcher_organization_id, collaboration_id=self.collaboration_id
        )
        return AlgorithmClient(self._researcher_api, metadata)

    # ------------------------------------------------------------------ server and nodes

    def submit(
        self,
        *,
        name: str,
        description: str,
        organizations: Sequence[int],
        input_: Mapping[str, Any],
        databases: Sequence[Any] | None,
        init_org_id: int,
        parent: TaskRecord | None,
    ) -> TaskRecord:
        """``POST /task``: the server stores the task, the nodes start its runs.

        A researcher's task without databases gets every database of the first
        organization (the researcher's client asks for ``default`` the same way).
        """
        self._validate_input(input_)
        if parent is None and databases is None:
            databases = list(self.organizations[self.organization_ids[0]].labels)
        task, runs = self.server.create_task(
            name=name, description=description, organizations=organizations, input_=input_,
            databases=databases, init_org_id=init_org_id, parent=parent)
        self.nodes.start(task, runs)
        return task

    def temporary_folder(self, job_id: int, organization_id: int) -> Path:
        """The folder shared by the runs of one job at one organization."""
        return self.nodes.temporary_folder(job_id, organization_id)

    def is_central(self, task_input: TaskInput) -> bool:
        """Whether the method takes an algorithm client (or is a legacy ``master``)."""
        try:
            function, style = resolve_method(self.module, task_input)
        except AlgorithmError:
            return False  # an unknown method fails at the nodes, as in production
        return style == "legacy_central" or registry.needs_client(function)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Wait for runs still going and remove the temporary folders."""
        self.nodes.close()

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

    def _validate_input(self, input_: Mapping[str, Any]) -> TaskInput:
        try:
            return TaskInput.model_validate(dict(input_))
        except ValueError as exc:
            raise ValidationError(f"not a valid task input: {exc}") from None

    def _check_member(self, organization_id: int, what: str) -> int:
        if organization_id not in self.organizations:
            raise ConfigurationError(
                f"{what} {organization_id} is not one of the organizations {self.organization_ids}"
            )
        return organization_id

    def _check_policies(self, policies: Mapping[int, Mapping[str, Any] | NodePolicies]
                        ) -> dict[int, NodePolicies]:
        checked = {}
        for org, configured in policies.items():
            self._check_member(org, "node_policies key")
            try:
                checked[org] = NodePolicies.model_validate(configured)
            except pydantic.ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ConfigurationError(f"node_policies[{org}]: {problems}") from None
        return checked

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
