"""What the node asks of a container runtime.

Two runtimes implement :class:`ContainerRuntime`: ``docker`` (isolated; the production
default) and ``process`` (a local subprocess; for development and demos, not isolated).
The node's daemon only ever talks to this interface, so its decision logic is tested with
a fake runtime. Both runtimes build the container's environment with
:func:`v6lib.wrappers.contract.contract_environment`, next to the wrapper's reading of it.
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
