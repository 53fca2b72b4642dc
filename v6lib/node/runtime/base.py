"""What the node asks of a container runtime, and the container contract it must honour.

Two runtimes implement :class:`ContainerRuntime`: ``docker`` (isolated; the production
default) and ``process`` (a local subprocess; for development and demos, not isolated).
The node's daemon only ever talks to this interface, so its decision logic is tested with
a fake runtime and the contract is built in exactly one place (:func:`contract_environment`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "ContainerRuntime",
    "ExitInfo",
    "JobDatabase",
    "JobSpec",
    "ManagedJob",
    "contract_environment",
]

# Label keys every runtime attaches to what it starts, so a restarted node can find
# and reconcile the jobs of its previous life.
LABEL_NODE = "v6lib.node"
LABEL_RUN = "v6lib.run_id"
LABEL_TASK = "v6lib.task_id"
LABEL_JOB = "v6lib.job_id"


@dataclass(frozen=True)
class JobDatabase:
    """A database handed to a run: ``uri`` is a host path or a URL."""

    label: str
    uri: str
    type: str
    query: str | None = None

    @property
    def is_file(self) -> bool:
        return "://" not in self.uri


@dataclass(frozen=True)
class JobSpec:
    """Everything a runtime needs to start one run of an algorithm.

    The files live on the host in the node's task directory; a runtime maps them into
    the container (Docker) or passes them as they are (process).
    """

    node_name: str
    run_id: int
    task_id: int
    job_id: int
    image: str
    input_file: Path
    output_file: Path
    token_file: Path
    temporary_folder: Path
    databases: Sequence[JobDatabase]
    proxy_port: int
    api_path: str = "/api"
    environment: Mapping[str, str] = field(default_factory=dict)
    cpus: float | None = None
    memory: str | None = None


@dataclass(frozen=True)
class ExitInfo:
    """How a run's container or process ended."""

    exit_code: int
    logs: str


@dataclass(frozen=True)
class ManagedJob:
    """A container/process this node started, found by its labels."""

    handle: str
    run_id: int
    running: bool


@runtime_checkable
class ContainerRuntime(Protocol):
    """Starts, watches and stops algorithm runs for one node."""

    name: str
    isolated: bool

    def verify(self) -> None:
        """Check the runtime can run algorithms safely; raise RuntimeUnavailableError if not.

        Called once the node's proxy listens, so a check may prove the proxy reachable.
        """

    def proxy_socket(self) -> Path | None:
        """A Unix socket the node's proxy must (also) listen on for this runtime's
        algorithms, or None when they reach it on ``127.0.0.1:PORT``."""

    def output_owner(self) -> int:
        """The uid that owns the files a run writes (the container's user, or the node's
        own uid when runs share it); the node reads no output owned by anyone else."""

    def start(self, spec: JobSpec) -> str:
        """Start the run; return a handle. Raises RuntimeUnavailableError / ConflictError."""

    def wait(self, handle: str, timeout: float | None = None) -> ExitInfo | None:
        """Block until the run ends (ExitInfo) or ``timeout`` passes (None)."""

    def kill(self, handle: str) -> None:
        """Stop the run now (within a second); no error if it already ended."""

    def remove(self, handle: str) -> None:
        """Remove every trace of the run (container, volumes); idempotent."""

    def list_managed(self) -> list[ManagedJob]:
        """Every run of this node known to the runtime, for reconciliation after a restart."""

    def close(self) -> None:
        """Release what the runtime set up for the node (networks, rules) at shutdown."""


def contract_environment(
    *,
    input_file: str,
    output_file: str,
    token_file: str,
    temporary_folder: str,
    host: str,
    port: int,
    api_path: str,
    databases: Sequence[JobDatabase],
    database_uris: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    proxy_socket: str | None = None,
) -> dict[str, str]:
    """The environment variables of the container contract, built in one place.

    Args:
        input_file, output_file, token_file, temporary_folder: paths *as the algorithm
            sees them* (inside the container for Docker, host paths for a process).
        host, port, api_path: where the algorithm reaches the node's proxy.
        databases: the run's databases; their URIs are used unless ``database_uris``
            maps a label to the path the algorithm sees instead.
        extra: the node's ``algorithm_env``; it cannot override contract variables.
        proxy_socket: the proxy's Unix socket as the algorithm sees it, for algorithms
            without a network: the wrapper then relays ``HOST:PORT`` on its loopback
            interface to it (``PROXY_SOCKET``).
    """
    env: dict[str, str] = dict(extra or {})
    env.update(
        INPUT_FILE=input_file,
        OUTPUT_FILE=output_file,
        TOKEN_FILE=token_file,
        TEMPORARY_FOLDER=temporary_folder,
        HOST=host,
        PORT=str(port),
        API_PATH=api_path,
        USER_REQUESTED_DATABASE_LABELS=",".join(db.label for db in databases),
    )
    if proxy_socket:
        env["PROXY_SOCKET"] = proxy_socket
    else:
        env.pop("PROXY_SOCKET", None)
    for db in databases:
        prefix = db.label.upper()
        env[f"{prefix}_DATABASE_URI"] = (database_uris or {}).get(db.label, db.uri)
        env[f"{prefix}_DATABASE_TYPE"] = db.type
        if db.query:
            env[f"{prefix}_QUERY"] = db.query
    return env
