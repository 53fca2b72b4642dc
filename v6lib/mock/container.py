"""Each mock run as a container sees it: its folder and files, its environment, its cage.

A node prepares a run by writing its input and token files into the run's folder and
starting the container with the contract's environment. The mock does the same for each
run, in process: the files are written in the node's layout (:mod:`v6lib.mock.folders`),
the environment by the node runtimes' own writer
(:func:`~v6lib.wrappers.contract.contract_environment`) and read back by the wrapper's
reader, so the run's databases and metadata come from what was written, as in a
container. Code written against the documented contract (``os.environ["INPUT_FILE"]``,
``TEMPORARY_FOLDER``, ``<LABEL>_DATABASE_URI``) therefore works the same here.

Differences that remain: paths are host paths (as with the process runtime), the token
is an unsigned mock token carrying the container token's claims, and ``HOST``/``PORT``
name no proxy: the mock's algorithm client is served in-process.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v6lib.mock import run_environ, run_scope, sandbox
from v6lib.mock.folders import RUN_HOME, RunFolders
from v6lib.mock.run_environ import RunEnvironment
from v6lib.mock.run_scope import RunScope, entered
from v6lib.mock.sandbox import Cage, DataOwners, sandbox_enabled
from v6lib.mock.store import MOCK_IMAGE
from v6lib.rules.container_identity import container_identity
from v6lib.wrappers.contract import (
    ContainerEnv,
    DatabaseSpec,
    RunPaths,
    contract_environment,
    reserved_names,
)
from v6lib.wrappers.metadata import RunMetadata
from v6lib.wrappers.token import metadata_for_run

if TYPE_CHECKING:
    from v6lib.mock.datasets import OrganizationData
    from v6lib.mock.store import RunRecord, TaskRecord

__all__ = ["PROXY_HOST", "PROXY_PORT", "MockContainer", "MockContainers", "mock_token"]

#: ``HOST`` and ``PORT`` of a mock run: as a node's, though no proxy listens there (the
#: sandbox refuses the connection); the algorithm client is served in-process.
PROXY_HOST = "http://127.0.0.1"
PROXY_PORT = 7601


def _segment(value: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(value), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def mock_token(claims: Mapping[str, Any]) -> str:
    """An unsigned JWT (``alg: none``) with the container token's ``claims`` and, as its
    ``sub``, the identity object the server's tokens carry.

    The wrapper reads a run's ids from its token's claims without verifying them
    (:func:`~v6lib.wrappers.token.metadata_for_run`); the server verifies the real one
    on every call. Nothing in the mock needs a signature.
    """
    header = _segment({"alg": "none", "typ": "JWT"})
    payload = _segment({**claims, "sub": container_identity(claims), "kind": "container",
                        "iss": "v6lib-mock"})
    return f"{header}.{payload}."


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


@dataclass(frozen=True)
class MockContainer:
    """One run's container: what the wrapper read from the environment, and its scope.

    ``databases`` and ``metadata`` come from the written environment and token, through
    the wrapper's own readers.
    """

    env: ContainerEnv
    databases: list[DatabaseSpec]
    metadata: RunMetadata
    scope: RunScope

    def running(self) -> AbstractContextManager[None]:
        """The block runs as this run: its ``os.environ``, its temporary directory and,
        if the network has one, its cage."""
        return entered(self.scope)

    def write_output(self, payload: bytes) -> None:
        """Write OUTPUT_FILE, as the wrapper does at the end of a run."""
        _write_private(self.env.output_file, payload)


class MockContainers:
    """The container side of a network's nodes: run folders, environments, cages.

    Args:
        organizations: the network's organizations (whose data the cage protects).
        package: the algorithm package's name (``PKG_NAME``).
        sandbox: cage the runs; None reads ``V6_MOCK_SANDBOX`` (on unless it says off).
    """

    def __init__(self, organizations: Mapping[int, OrganizationData], package: str, *,
                 sandbox: bool | None = None) -> None:
        self.package = package
        self.sandbox = sandbox_enabled(sandbox)
        self.folders = RunFolders()
        self._owners = DataOwners.of(organizations) if self.sandbox else None

    @contextmanager
    def start(self, task: TaskRecord, run: RunRecord, task_input: bytes,
              databases: Sequence[DatabaseSpec]) -> Iterator[MockContainer]:
        """Prepare the run's container (folder, input and token files, environment) for
        the block; its folder goes when the block ends, as a node removes it.

        Args:
            task_input: the run's input as the node writes it (serialized, decrypted).
            databases: the run's databases in the requested order.
        """
        run_environ.install()
        run_scope.install_thread_inheritance()
        if self.sandbox:
            sandbox.install()
        org = run.organization_id
        paths = self.folders.open(org, task.job_id, run.id)
        try:
            yield self._prepare(task, run, paths, task_input, databases)
        finally:
            self.folders.close(paths)

    def _prepare(self, task: TaskRecord, run: RunRecord, paths: RunPaths, task_input: bytes,
                 databases: Sequence[DatabaseSpec]) -> MockContainer:
        home = paths.run_dir / RUN_HOME
        os.mkdir(home)
        token = mock_token({
            "run_id": run.id, "task_id": task.id, "job_id": task.job_id,
            "collaboration_id": task.collaboration_id, "organization_id": run.organization_id,
            "node_id": run.organization_id, "image": MOCK_IMAGE, "study_id": None,
            "databases": [dict(db) for db in task.databases],
        })
        _write_private(paths.input_file, task_input)
        _write_private(paths.token_file, token.encode("ascii"))
        written = contract_environment(
            input_file=paths.input_file, output_file=paths.output_file,
            token_file=paths.token_file, temporary_folder=paths.temporary_folder,
            host=PROXY_HOST, port=PROXY_PORT, databases=databases, pkg_name=self.package,
            extra={"HOME": str(home)},
        )
        env = ContainerEnv.from_environ(written)
        environ = RunEnvironment(written, reserved_names(env.user_requested_database_labels))
        scope = RunScope(run.organization_id, run.id, environ, home, self._cage(run, paths))
        return MockContainer(
            env=env, databases=env.databases(written),
            metadata=metadata_for_run(token, env),
            scope=scope,
        )

    def _cage(self, run: RunRecord, paths: RunPaths) -> Cage | None:
        if self._owners is None:
            return None
        return Cage(
            organization_id=run.organization_id, run_dir=str(paths.run_dir),
            output_dir=str(paths.output_dir), home=str(paths.run_dir / RUN_HOME),
            temporary_folder=str(paths.temporary_folder),
            read_only=frozenset({str(paths.input_file), str(paths.token_file)}),
            private_root=str(self.folders.root), owners=self._owners,
        )

    def temporary_folder(self, job_id: int, organization_id: int) -> Path:
        """The job's TEMPORARY_FOLDER at the organization."""
        return self.folders.temporary_folder(job_id, organization_id)

    def close(self) -> None:
        """Remove every run folder (once the network's runs have ended)."""
        self.folders.cleanup()
