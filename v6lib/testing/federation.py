"""``LocalFederation``: a real server and real nodes in this process, for tests.

What runs is production code end to end: the Falcon app on a SQLite file served over
HTTP, one node daemon per organization (the process runtime, so no Docker is needed)
that claims runs, checks its policy, starts the algorithm through the container
wrapper, seals and uploads results; and the researcher's :class:`~v6lib.client.Client`.
Its researcher-side methods are the MockNetwork's, so one suite can run on both.

Example::

    with LocalFederation(v6_average, ["a.csv", "b.csv", "c.csv"]) as federation:
        [result] = federation.run("central_average", kwargs={"column": "age"})
"""

from __future__ import annotations

import importlib
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from v6lib.client import Client
from v6lib.config import ServerConfig
from v6lib.crypto import generate_private_key, public_key_b64, save_private_key
from v6lib.errors import AlgorithmError, ConfigurationError
from v6lib.mock.datasets import MEMORY_TYPE, OrganizationData, normalize_datasets
from v6lib.node.daemon import Node
from v6lib.node.options import NodeOptions
from v6lib.node.retry import Backoff
from v6lib.node.runtime.base import JobDatabase
from v6lib.rules.failures import failure_error
from v6lib.schemas.run_status import RunStatus
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST
from v6lib.testing.http_server import serve_app
from v6lib.wrappers.dispatch import resolve_method

__all__ = ["LocalFederation"]

_PASSWORD = "Local-federation-1!"
_KEY_BITS = 2048


class LocalFederation:
    """A collaboration of ``len(datasets)`` organizations on a real server, each with a
    real node, and a researcher of the first organization.

    Args:
        module: the algorithm package (module object or importable name); the nodes run
            it from the directory that holds it.
        datasets: one entry per organization, in any form the MockNetwork takes (frames
            are written to Parquet files for the nodes).
        encrypted: an encrypted collaboration, with a key pair per organization.
        workdir: where the server's database, node folders and data go (a temporary
            directory, removed on close, by default).
    """

    #: The password of the accounts ``root`` and ``researcher`` (test servers only).
    PASSWORD = _PASSWORD

    def __init__(self, module: ModuleType | str, datasets: Sequence[Any], *,
                 encrypted: bool = False, workdir: Path | None = None) -> None:
        self.module = importlib.import_module(module) if isinstance(module, str) else module
        self.encrypted = encrypted
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="v6-local-"))
        self._data = normalize_datasets(datasets, None, cache=False)
        self.image = f"local/{self.module.__name__.replace('_', '-')}:test"
        self.organization_ids: list[int] = []
        self.collaboration_id = 0
        self.researcher: Client | None = None
        self._stack = ExitStack()
        self._nodes: list[tuple[Node, threading.Thread]] = []
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- start-up -----------------------------------------------------------------------
    def _start(self) -> None:
        # NOTE: threads sets how many long-polls the server holds at once: every node,
        # the researcher and each waiting central function holds one
        config = ServerConfig(uri=f"sqlite:///{self.workdir / 'server.sqlite'}",
                              root_password=_PASSWORD, jwt_secret_key=secrets.token_hex(32),
                              threads=32)
        app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
        self._stack.callback(app.v6_state.engine.dispose)
        self._stack.callback(app.v6_state.hub.stop)
        self.port = self._stack.enter_context(serve_app(app))
        root = self._client("root")
        orgs = [root.organization.create(name=f"organization {i + 1}")["id"]
                for i in range(len(self._data))]
        self.organization_ids = orgs
        self.collaboration_id = root.collaboration.create(
            "local federation", orgs, encrypted=self.encrypted)["id"]
        role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Researcher"]
        root.user.create(username="researcher", password=_PASSWORD, organization=orgs[0],
                         roles=role)
        keys = self._keys(root) if self.encrypted else {}
        for org_id, data in zip(orgs, self._data.values(), strict=True):
            api_key = root.node.create(collaboration=self.collaboration_id,
                                       organization=org_id, name=f"organization {org_id}")
            self._start_node(org_id, str(api_key), data, keys.get(org_id))
        self.researcher = self._client("researcher")
        if self.encrypted:
            self.researcher.setup_encryption(keys[orgs[0]])

    def _client(self, username: str) -> Client:
        client = Client("http://127.0.0.1", self.port, "/api",
                        trust_file=self.workdir / "researcher-trust.json")
        client.authenticate(username, _PASSWORD)
        return client

    def _keys(self, root: Client) -> dict[int, Path]:
        paths = {}
        for org_id in self.organization_ids:
            key = generate_private_key(_KEY_BITS)
            path = self.workdir / f"organization-{org_id}.pem"
            save_private_key(key, path)
            root.organization.update(org_id, public_key=public_key_b64(key))
            paths[org_id] = path
        return paths

    def _databases(self, org_id: int, data: OrganizationData) -> dict[str, JobDatabase]:
        databases = {}
        for label in data.labels:
            spec = data.spec(label)
            assert spec is not None
            uri, kind = spec.uri, spec.type
            if kind == MEMORY_TYPE:  # a frame held in memory: the node reads a file
                path = self.workdir / "data" / f"organization-{org_id}-{label}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                data.load(spec, None).to_parquet(path)
                uri, kind = str(path), "parquet"
            databases[label] = JobDatabase(label, uri, kind, spec.query)
        return databases

    def _start_node(self, org_id: int, api_key: str, data: OrganizationData,
                    key: Path | None) -> None:
        source = Path(self.module.__file__ or "").resolve()
        # the directory the module is imported from: above its package, or beside it
        package_dir = source.parent.parent if source.name == "__init__.py" else source.parent
        options = NodeOptions(
            name=f"organization {org_id}", api_key=api_key,
            server_api_url=f"http://127.0.0.1:{self.port}/api",
            task_dir=self.workdir / f"node-{org_id}",
            databases=self._databases(org_id, data), runtime="process",
            process_images={self.image: self.module.__name__},
            algorithm_env={"PYTHONPATH": str(package_dir)},
            encryption_enabled=self.encrypted, private_key_path=key,
            event_timeout=2.0, sweep_interval=5.0)
        node = Node(options, backoff=Backoff(base=0.1, max_delay=1.0))
        node.start()
        thread = threading.Thread(target=node.run_forever, daemon=True,
                                  name=f"local-node-{org_id}")
        thread.start()
        self._nodes.append((node, thread))

    # -- the researcher's side (the MockNetwork's methods) -------------------------------
    @property
    def client(self) -> Client:
        """The researcher's client (logged in; with the key when encrypted)."""
        if self.researcher is None:
            raise ConfigurationError("the federation is not running")
        return self.researcher

    def is_central(self, method: str) -> bool:
        from v6lib.schemas.task_input import TaskInput
        from v6lib.wrappers.decorators import registry

        try:
            function, style = resolve_method(self.module, TaskInput(method=method))
        except AlgorithmError:
            return False
        return style == "legacy_central" or registry.needs_client(function)

    def create_task(self, method: str, *, args: Sequence[Any] = (),
                    kwargs: Mapping[str, Any] | None = None,
                    organizations: Sequence[int] | None = None,
                    databases: Sequence[str | Mapping[str, Any]] | None = None,
                    name: str | None = None, description: str = "") -> dict[str, Any]:
        """Create a task as the researcher; defaults as :meth:`MockNetwork.create_task`."""
        if organizations is None:
            organizations = [self.organization_ids[0]] if self.is_central(method) \
                else self.organization_ids
        if databases is None:
            databases = list(self._data[next(iter(self._data))].labels)
        return self.client.task.create(
            collaboration=self.collaboration_id, organizations=list(organizations),
            name=name or method, description=description, image=self.image,
            input_={"method": method, "args": list(args), "kwargs": dict(kwargs or {})},
            databases=list(databases))

    def wait_for_results(self, task_id: int, timeout: float | None = None) -> list[Any]:
        """Wait for every run of the task; their results in creation order.

        Raises:
            AlgorithmError: a run did not complete (the same words as the MockNetwork).
        """
        outcomes = self.client.wait_for_results(task_id, timeout=timeout,
                                                raise_on_failure=False)
        if any(not o.ok for o in outcomes):
            raise failure_error(task_id, outcomes)
        return [o.result for o in outcomes]

    def run(self, method: str, *, args: Sequence[Any] = (),
            kwargs: Mapping[str, Any] | None = None,
            organizations: Sequence[int] | None = None,
            databases: Sequence[str | Mapping[str, Any]] | None = None,
            timeout: float | None = 120) -> list[Any]:
        """Create a task, wait, return its results (see :meth:`MockNetwork.run`)."""
        task = self.create_task(method, args=args, kwargs=kwargs, organizations=organizations,
                                databases=databases)
        return self.wait_for_results(task["id"], timeout=timeout)

    def runs(self, task_id: int) -> list[dict[str, Any]]:
        """Every run of the task with its result decoded, as the researcher sees them."""
        runs = []
        for run in self.client.run.from_task(task_id):
            result = None
            if RunStatus(run["status"]) is RunStatus.COMPLETED:
                result = self.client.result.decode({**run, "task_id": task_id})
            runs.append({**run, "result": result})
        return runs

    def kill_task(self, task_id: int) -> None:
        """Kill the task and its subtasks (their unfinished runs end "killed by user")."""
        self.client.task.kill(task_id)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the nodes and the server; remove the working directory if it was ours."""
        for node, _ in self._nodes:
            node.stop()
        for node, thread in self._nodes:
            thread.join(15)
            node.close()
        self._nodes.clear()
        self._stack.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalFederation:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
