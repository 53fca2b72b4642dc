"""The process runtime: runs an algorithm as a local subprocess, for development and demos.

Not isolated: the algorithm runs with the node's user, files and network. The node logs
a warning when it starts with this runtime; use the docker runtime in production.

Which module runs: for this runtime the task's "image" names an importable Python
module, handed to the wrappers as ``PKG_NAME``. The node config may map images to
modules (``process_images: {image name or regex: module}``); without a match the module
is the image's repository name without registry and tag, with "-" replaced by "_"
(``harbor.example.org/algorithms/v6-average:latest`` -> ``v6_average``).

Each run gets a state file ``<state_dir>/run-<id>.json`` (pid, process start time) so
a restarted node finds processes of its previous life; a small ``/bin/sh`` launcher
parent (:mod:`v6lib.node.runtime._launch`) writes the exit code to ``run-<id>.exit``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from v6lib.errors import ConflictError, RuntimeUnavailableError
from v6lib.node.policies import split_image
from v6lib.node.runtime._launch import launcher_argv
from v6lib.node.runtime.base import ExitInfo, JobSpec, ManagedJob, contract_environment

__all__ = ["ProcessRuntime", "module_for_image"]

log = logging.getLogger(__name__)
LOG_LIMIT = 64 * 1024


def module_for_image(image: str, mapping: Mapping[str, str] | None = None) -> str:
    """The Python module that the process runtime runs for ``image`` (see module docs)."""
    for key, module in (mapping or {}).items():
        if key == image:
            return module
    for key, module in (mapping or {}).items():
        with contextlib.suppress(re.error):
            if re.fullmatch(key, image):
                return module
    repository = split_image(image)[0]
    return repository.rsplit("/", 1)[-1].replace("-", "_")


def _tail(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace")
    return f"[log truncated to the last {limit} bytes]\n{text}" if size > limit else text


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against pid reuse); None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, start_time: str | None) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] in ("Z", "X"):
        return False
    return start_time is None or _start_time(pid) == start_time


def _wait_foreign(pid: int, start_time: str | None, timeout: float | None) -> bool:
    """Wait for a process that is not our child; True once it ended, False on timeout.

    Why: a restarted node must notice the end of its previous life's runs promptly. A
    pidfd wakes us the moment the process exits; without one (old kernel, no permission)
    we fall back to a short polling period.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    fd = None
    with contextlib.suppress(AttributeError, OSError):
        fd = os.pidfd_open(pid)
    try:
        if fd is not None and not _alive(pid, start_time):  # pid reused before the open
            return True
        while _alive(pid, start_time):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            if fd is None:
                time.sleep(0.02 if left is None else min(0.02, left))
                continue
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll(None if left is None else max(1, int(left * 1000)))
        return True
    finally:
        if fd is not None:
            os.close(fd)


class ProcessRuntime:
    """Runs ``python -m v6lib.wrappers`` per run, with the contract environment.

    Args:
        state_dir: where pid/exit/log files live (inside the node's task directory).
        image_modules: ``process_images`` from the config.
        python: the interpreter for algorithms (default: the node's own).
        command: the algorithm command (default ``[python, "-m", "v6lib.wrappers"]``).
    """

    name = "process"
    isolated = False

    def __init__(
        self,
        state_dir: Path,
        *,
        image_modules: Mapping[str, str] | None = None,
        python: str = sys.executable,
        command: Sequence[str] | None = None,
        log_limit: int = LOG_LIMIT,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.image_modules = dict(image_modules or {})
        self.python = python
        self.command = list(command) if command else [python, "-m", "v6lib.wrappers"]
        self.log_limit = log_limit
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # -- files --------------------------------------------------------------------------
    def _files(self, handle: str) -> tuple[Path, Path, Path]:
        base = self.state_dir / handle
        return base.with_suffix(".json"), base.with_suffix(".exit"), base.with_suffix(".log")

    def _state(self, handle: str) -> dict[str, object] | None:
        state_file = self._files(handle)[0]
        try:
            return json.loads(state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    # -- protocol -----------------------------------------------------------------------
    def verify(self) -> None:
        if not Path(self.python).exists():
            raise RuntimeUnavailableError(f"process runtime: interpreter {self.python} not found")
        log.warning("process runtime: algorithms run unisolated on this machine; use the "
                    "docker runtime in production")

    def proxy_bind_host(self) -> str:
        return "127.0.0.1"

    def environment(self, spec: JobSpec) -> dict[str, str]:
        """The full environment of the algorithm process."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("V6_")}
        base.update(contract_environment(
            input_file=str(spec.input_file), output_file=str(spec.output_file),
            token_file=str(spec.token_file), temporary_folder=str(spec.temporary_folder),
            host="127.0.0.1", port=spec.proxy_port, api_path=spec.api_path,
            databases=spec.databases, extra=spec.environment,
        ))
        base["PKG_NAME"] = module_for_image(spec.image, self.image_modules)
        base["HOST"] = "http://127.0.0.1"
        return base

    def start(self, spec: JobSpec) -> str:
        handle = f"run-{spec.run_id}"
        state_file, exit_file, log_file = self._files(handle)
        state = self._state(handle)
        if state and _alive(int(state["pid"]), state.get("start_time")):  # type: ignore[arg-type]
            raise ConflictError(f"run {spec.run_id} is already running (pid {state['pid']})")
        for stale in (exit_file, log_file):
            stale.unlink(missing_ok=True)
        spec.temporary_folder.mkdir(parents=True, exist_ok=True)
        argv = launcher_argv(str(exit_file), self.command)
        try:
            with log_file.open("wb") as log_fh:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                    env=self.environment(spec), cwd=spec.temporary_folder,
                    start_new_session=True,
                )
        except OSError as exc:
            raise RuntimeUnavailableError(f"process runtime cannot start run "
                                          f"{spec.run_id}: {exc}") from exc
        self._children[handle] = proc
        tmp = state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({
            "pid": proc.pid, "start_time": _start_time(proc.pid), "run_id": spec.run_id,
            "task_id": spec.task_id, "job_id": spec.job_id, "node": spec.node_name,
        }))
        os.replace(tmp, state_file)
        return handle

    def _exit_info(self, handle: str, fallback: int) -> ExitInfo:
        _, exit_file, log_file = self._files(handle)
        try:
            code = int(exit_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            code = fallback
        return ExitInfo(exit_code=code, logs=_tail(log_file, self.log_limit))

    def wait(self, handle: str, timeout: float | None = None) -> ExitInfo | None:
        child = self._children.get(handle)
        if child is not None:
            try:
                code = child.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            return self._exit_info(handle, code if code >= 0 else 128 - code)
        state = self._state(handle)
        if state is None:
            return self._exit_info(handle, -1)
        if not _wait_foreign(int(state["pid"]), state.get("start_time"), timeout):  # type: ignore[arg-type]
            return None
        return self._exit_info(handle, -1)  # -1: not our child and no exit file

    def kill(self, handle: str) -> None:
        state = self._state(handle)
        if state is None:
            return
        pid = int(state["pid"])  # type: ignore[arg-type]
        if not _alive(pid, state.get("start_time")):  # type: ignore[arg-type]
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and _alive(pid, state.get("start_time")):  # type: ignore[arg-type]
            child = self._children.get(handle)
            if child is not None and child.poll() is not None:
                break
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        child = self._children.get(handle)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(0.4)

    def remove(self, handle: str) -> None:
        self.kill(handle)
        self._children.pop(handle, None)
        for path in self._files(handle):
            path.unlink(missing_ok=True)

    def list_managed(self) -> list[ManagedJob]:
        jobs = []
        for state_file in sorted(self.state_dir.glob("run-*.json")):
            handle = state_file.stem
            state = self._state(handle)
            if state is None:
                continue
            child = self._children.get(handle)
            running = (child.poll() is None) if child is not None else _alive(
                int(state["pid"]), state.get("start_time"))  # type: ignore[arg-type]
            jobs.append(ManagedJob(handle=handle, run_id=int(state["run_id"]),  # type: ignore[arg-type]
                                   running=running))
        return jobs

    def close(self) -> None:
        """Nothing to release: processes outlive the node and are reconciled at its start."""
