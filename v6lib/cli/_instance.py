"""One configured server or node on this machine: its file, its run files, its state.

Why a small value: ``start``, ``stop``, ``list``, ``attach``, ``files``, ``remove`` and
``version`` of both ``v6 server`` and ``v6 node`` ask the same questions (where is its
pid file, is it running, where does its log go); they answer them here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v6lib import errors
from v6lib.cli._configs import Kind, system_config_dir
from v6lib.cli._select import Selection
from v6lib.cli.background import V6, spawn, terminate
from v6lib.pid_files import running_pid

__all__ = ["Instance", "load_instance", "load_path", "start_detached", "stop_instance"]


@dataclass(frozen=True)
class Instance:
    """A configuration file of ``kind`` and the configuration read from it."""

    kind: Kind
    path: Path
    config: Any

    @property
    def name(self) -> str:
        return str(self.config.name)

    @property
    def run_dir(self) -> Path:
        """The server's data directory or the node's task directory."""
        return Path(self.config.data_dir if self.kind == "server" else self.config.task_dir)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.kind}.pid"

    @property
    def log_file(self) -> Path:
        """Where a background start writes the console output."""
        return self.run_dir / f"{self.kind}.log"

    @property
    def scope(self) -> str:
        """``system`` for a file in the system-wide directory, else ``user``."""
        system = system_config_dir(self.kind)
        return "system" if self.path.resolve().parent == system.resolve() else "user"

    def pid(self) -> int | None:
        """The pid of the running instance, or None."""
        return running_pid(self.pid_file)

    def state(self) -> str:
        pid = self.pid()
        return f"running (pid {pid})" if pid else "stopped"


def load_path(kind: Kind, path: Path, **overrides: Any) -> Instance:
    """Read the configuration at ``path`` (errors name the file and key)."""
    from v6lib.config import load_node_config, load_server_config

    loader = load_server_config if kind == "server" else load_node_config
    return Instance(kind, path, loader(path, **overrides))


def load_instance(selection: Selection, **overrides: Any) -> Instance:
    """The selected configuration, loaded."""
    return load_path(selection.kind, selection.path(), **overrides)


def start_detached(instance: Instance, extra: Sequence[str], *,
                   ready: Callable[[int], bool], timeout: float,
                   env: Mapping[str, str] | None = None) -> int:
    """Run ``v6 <kind> start --attach -c <file> <extra>`` in the background; its pid.

    Raises:
        ConflictError: it is running already.
        ServerUnavailableError: it ended, or was not ready, while starting.
    """
    running = instance.pid()
    if running:
        raise errors.ConflictError(
            f"{instance.kind} '{instance.name}' is already running (pid {running}); stop it "
            f"first with `v6 {instance.kind} stop -n {instance.name}`")
    argv = [*V6, instance.kind, "start", "--attach", "-c", str(instance.path.resolve()),
            *extra]
    return spawn(argv, instance.log_file, ready=ready, timeout=timeout, env=env,
                 what=f"{instance.kind} '{instance.name}'")


def stop_instance(instance: Instance, *, force: bool = False, grace: float = 30.0) -> int:
    """Stop the running instance and wait for it; its pid.

    Raises:
        NotFoundError: it is not running.
        ServerUnavailableError: it did not end within ``grace`` seconds.
    """
    pid = instance.pid()
    if pid is None:
        stale = instance.pid_file.exists()
        instance.pid_file.unlink(missing_ok=True)
        raise errors.NotFoundError(
            f"{instance.kind} '{instance.name}' is not running "
            + ("(stale pid file removed)" if stale else f"(no {instance.pid_file})"))
    if not terminate(pid, grace=grace, force=force):
        raise errors.ServerUnavailableError(
            f"{instance.kind} '{instance.name}' (pid {pid}) did not stop within {grace:g} s; "
            "it may still be finishing requests; use --force to kill it")
    instance.pid_file.unlink(missing_ok=True)
    return pid
