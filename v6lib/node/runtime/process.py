"""The process runtime: runs an algorithm as a local subprocess, for development and demos.

Not isolated: the algorithm runs with the node's user, files and network. The node logs
a warning when it starts with this runtime; use the docker runtime in production.

Which module runs: for this runtime the task's "image" names an importable Python
module, handed to the wrappers as ``PKG_NAME``. The node config may map images to
modules (``process_images: {image name or regex: module}``); without a match the module
is the image's repository name without registry and tag, with "-" replaced by "_"
(``harbor.example.org/algorithms/v6-average:latest`` -> ``v6_average``).

Each run gets a state file ``<state_dir>/run-<id>.json`` (pid, process start time) so
a restarted node finds processes of its previous life, and an exit file ``run-<id>.exit``.
With the default command a warm starter (:mod:`v6lib.node.runtime.warm_starter`, an
interpreter with the wrappers and pandas already imported) forks the run, saving the
interpreter start; until it is ready, when it is gone, or for a custom ``command``, a
small ``/bin/sh`` launcher parent (:mod:`v6lib.node.runtime._launch`) runs a fresh
interpreter. Either way the exit code lands in the exit file, which the node reads as
:mod:`v6lib.node.runtime.process_files` says (a run could have replaced it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from v6lib.errors import ConflictError, RuntimeUnavailableError
from v6lib.node.relays import RunRelays, open_relays
from v6lib.node.runtime._launch import launcher_argv
from v6lib.node.runtime.base import ExitInfo, JobSpec, ManagedJob
from v6lib.node.runtime.process_cgroups import RunCgroups
from v6lib.node.runtime.process_files import (
    exit_code,
    log_tail,
    reserve_exit_file,
    run_state,
)
from v6lib.node.runtime.process_limits import (
    MARKER_VARIABLE,
    ProcessLimits,
    kill_marked,
    run_marker,
)
from v6lib.node.runtime.warm_client import WarmStarter
from v6lib.node.runtime.warm_starter import DEFAULT_PRELOAD
from v6lib.node.ssh_tunnels import SshTunnels
from v6lib.rules.network_access import Allowlist
from v6lib.rules.node_policy import split_image
from v6lib.wrappers.contract import HOST_SETTINGS_PREFIX, contract_environment

__all__ = ["ProcessRuntime", "module_for_image"]

log = logging.getLogger(__name__)
LOG_LIMIT = 64 * 1024
WARM_RESTARTS = 3  # starters launched after the first one died, per runtime


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


def _poll_fd(fd: int, timeout: float | None) -> bool | None:
    """True once ``fd`` (a pidfd) is readable, i.e. its process ended; False on timeout;
    None if the fd was closed meanwhile (by remove() or close() in another thread)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    events = poller.poll(None if timeout is None else math.ceil(max(0.0, timeout) * 1000))
    if not events:
        return False
    return True if events[0][1] & select.POLLIN else None


class ProcessRuntime:
    """Runs ``python -m v6lib.wrappers`` per run, with the contract environment.

    Args:
        state_dir: where pid/exit/log files live (inside the node's task directory).
        image_modules: ``process_images`` from the config.
        python: the interpreter for algorithms (default: the node's own).
        command: the algorithm command (default ``[python, "-m", "v6lib.wrappers"]``);
            a custom command always runs through the launcher.
        preload: modules the warm starter imports before forking runs (skipped when not
            importable); they cost the starter's memory once, shared by its runs.
        warm_start: use the warm starter with the default command.
        allowlist: vantage6's ``whitelist`` served through the node's allowlisting HTTP
            proxy (a process can still open its own connections: it has the host's
            network).
        tunnels: the node's ``ssh_tunnels`` (opened on first use, closed with the
            runtime).
        cgroups: put each run with limits in a cgroup of its own where cgroup v2 allows
            (:mod:`v6lib.node.runtime.process_cgroups`); resource limits otherwise.
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
        preload: Sequence[str] = DEFAULT_PRELOAD,
        warm_start: bool = True,
        allowlist: Allowlist | None = None,
        tunnels: SshTunnels | None = None,
        cgroups: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.allowlist = allowlist or Allowlist()
        self._relays: dict[str, RunRelays] = {}
        self.tunnels = tunnels
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.image_modules = dict(image_modules or {})
        self.python = python
        self.command = list(command) if command else [python, "-m", "v6lib.wrappers"]
        self.log_limit = log_limit
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._pidfds: dict[str, int] = {}
        self.preload = tuple(preload)
        self.warm_start = warm_start and not command
        self.warm_starter: WarmStarter | None = None
        self._warm_lock = threading.Lock()
        self._warm_restarts = 0
        self.cgroups: RunCgroups | None = None
        self.containment = "resource limits (RLIMIT_AS, CPU affinity): cgroups not used"
        if cgroups:
            self.cgroups, why_not = RunCgroups.detect(self.state_dir)
            self.containment = (self.cgroups.describe() if self.cgroups is not None else
                                f"resource limits (RLIMIT_AS, CPU affinity): {why_not}")

    # -- files --------------------------------------------------------------------------
    def _files(self, handle: str) -> tuple[Path, Path, Path]:
        base = self.state_dir / handle
        return base.with_suffix(".json"), base.with_suffix(".exit"), base.with_suffix(".log")

    def _pid_file(self, handle: str) -> Path:
        """Where the warm starter records a run it forked, before the node hears of it."""
        return self.state_dir / f"{handle}.pid"

    def _temporary_files(self, handle: str) -> list[Path]:
        """What an interrupted write (a full disk, a crash) can leave next to the state
        and exit files; removed with the run."""
        return [self._files(handle)[0].with_suffix(".json.tmp"), self._pid_file(handle),
                Path(f"{self._pid_file(handle)}.tmp")]

    def _state(self, handle: str) -> dict[str, Any] | None:
        return run_state(self._files(handle)[0])

    # -- protocol -----------------------------------------------------------------------
    def verify(self) -> None:
        if not Path(self.python).exists():
            raise RuntimeUnavailableError(f"process runtime: interpreter {self.python} not found")
        log.warning("process runtime: algorithms run unisolated on this machine; use the "
                    "docker runtime in production")
        if self.tunnels is not None:
            self.tunnels.start()
        log.info("process runtime: runs with limits are contained by %s", self.containment)
        self._warm()

    # -- warm starter -------------------------------------------------------------------
    def _base_environment(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith(HOST_SETTINGS_PREFIX)}

    def _warm(self) -> WarmStarter | None:
        """The warm starter if it is ready; launches one (without waiting) if there is none."""
        if not self.warm_start:
            return None
        with self._warm_lock:
            starter = self.warm_starter
            if starter is not None and starter.state in ("failed", "closed"):
                if starter.state == "failed" and self._warm_restarts >= WARM_RESTARTS:
                    return None
                self._warm_restarts += starter.state == "failed"
                starter = None
            if starter is None:
                starter = self.warm_starter = WarmStarter(
                    self.python, self.preload, self.state_dir / "warm-starter.log",
                    self._base_environment())
                starter.launch()
                if starter.state == "failed":
                    log.warning("process runtime: warm starter unavailable (%s); runs start "
                                "a fresh interpreter", starter.info.get("error"))
        return starter if starter.ready() else None

    def warm_up(self, timeout: float = 30.0) -> bool:
        """Start the warm starter and wait until it is ready; False if it could not be."""
        self._warm()
        return self.warm_starter is not None and self.warm_starter.ready(timeout)

    def _start_warm(self, spec: JobSpec, env: dict[str, str]) -> tuple[int, str | None] | None:
        starter = self._warm()
        if starter is None:
            return None
        _, exit_file, log_file = self._files(f"run-{spec.run_id}")
        try:
            return starter.spawn(env=env, cwd=spec.temporary_folder, log=log_file,
                                 exit_file=exit_file, argv=self.command,
                                 pid_file=self._pid_file(f"run-{spec.run_id}"))
        except RuntimeUnavailableError as exc:
            log.warning("process runtime: %s; run %s starts a fresh interpreter",
                        exc, spec.run_id)
            return None

    def proxy_socket(self) -> Path | None:
        return None  # algorithms share the node's network: 127.0.0.1:PORT

    def output_owner(self) -> int:
        return os.geteuid()  # runs are the node's own processes

    def environment(self, spec: JobSpec, relays: RunRelays | None = None) -> dict[str, str]:
        """The full environment of the algorithm process (its databases reached through
        ``relays`` when given)."""
        base = contract_environment(
            input_file=spec.input_file, output_file=spec.output_file,
            token_file=spec.token_file, temporary_folder=spec.temporary_folder,
            host="http://127.0.0.1", port=spec.proxy_port, api_path=spec.api_path,
            databases=relays.databases if relays else spec.databases,
            pkg_name=module_for_image(spec.image, self.image_modules),
            extra={**self._base_environment(), **spec.environment,
                   **(relays.environment if relays else {})},
        )
        if "PWD" in base:  # what the launcher's shell sets; a forked run gets it too
            base["PWD"] = str(spec.temporary_folder)
        base[MARKER_VARIABLE] = run_marker(self.state_dir, spec.run_id)
        return base

    def start(self, spec: JobSpec) -> str:
        handle = f"run-{spec.run_id}"
        _, exit_file, log_file = self._files(handle)
        state = self._state(handle)
        if state and _alive(int(state["pid"]), state.get("start_time")):
            raise ConflictError(f"run {spec.run_id} is already running (pid {state['pid']})")
        for stale in (exit_file, log_file, *self._temporary_files(handle)):
            stale.unlink(missing_ok=True)
        spec.temporary_folder.mkdir(parents=True, exist_ok=True)
        reserve_exit_file(exit_file)
        self._close_relays(handle)
        try:
            allowlist = replace(self.allowlist, routes=self.tunnels.start()) if self.tunnels \
                else self.allowlist
            relays = self._relays[handle] = open_relays(
                spec.run_id, spec.databases, allowlist,
                directory=self.state_dir / "relays" / handle)
            self._launch(spec, handle, relays)
        except BaseException:
            self.remove(handle)  # a run that did not start leaves no files or relays behind
            raise
        return handle

    def _close_relays(self, handle: str) -> None:
        relays = self._relays.pop(handle, None)
        if relays is not None:
            relays.close()

    def _launch(self, spec: JobSpec, handle: str, relays: RunRelays) -> None:
        env = self.environment(spec, relays)
        limits = ProcessLimits.of(spec)
        # NOTE: a forked run would inherit the warm starter's address space and cores;
        # limited runs start through the launcher, which applies the limits first
        warm = None if limits.active else self._start_warm(spec, env)
        if warm is not None:
            pid, start_time = warm
        else:
            pid = self._start_launcher(spec, handle, env, limits)
            start_time = _start_time(pid)
        try:
            self._write_state(self._files(handle)[0], {
                "pid": pid, "start_time": start_time, "run_id": spec.run_id,
                "task_id": spec.task_id, "job_id": spec.job_id, "node": spec.node_name,
                "starter": "warm" if warm is not None else "launcher",
            })
        except OSError:
            # NOTE: an untracked run must not go on: end its group before reporting
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            raise
        self._release(handle)

    def _release(self, handle: str) -> None:
        """Let the launcher run the algorithm (its limits are set, its state recorded)."""
        child = self._children.get(handle)
        if child is None or child.stdin is None:
            return
        with contextlib.suppress(OSError):  # it died already: wait() reports it
            child.stdin.write(b"go\n")
            child.stdin.flush()
        with contextlib.suppress(OSError):
            child.stdin.close()

    @staticmethod
    def _write_state(state_file: Path, state: dict[str, object]) -> None:
        tmp = state_file.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(state))
            os.replace(tmp, state_file)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def _start_launcher(self, spec: JobSpec, handle: str, env: dict[str, str],
                        limits: ProcessLimits) -> int:
        _, exit_file, log_file = self._files(handle)
        argv = launcher_argv(str(exit_file), self.command)
        try:
            with log_file.open("wb") as log_fh:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=log_fh, stderr=subprocess.STDOUT,
                    env=env, cwd=spec.temporary_folder, start_new_session=True,
                )
        except OSError as exc:
            raise RuntimeUnavailableError(f"process runtime cannot start run "
                                          f"{spec.run_id}: {exc}") from exc
        try:
            # the launcher waits for its go: nothing ran yet
            self._contain(spec, proc.pid, limits)
        except (OSError, ValueError) as exc:
            proc.kill()
            proc.wait()
            raise RuntimeUnavailableError(f"process runtime cannot limit run "
                                          f"{spec.run_id} ({limits}): {exc}") from exc
        self._children[handle] = proc
        with contextlib.suppress(AttributeError, OSError):  # no pidfd: Popen.wait polls
            self._pidfds[handle] = os.pidfd_open(proc.pid)
        return proc.pid

    def _contain(self, spec: JobSpec, pid: int, limits: ProcessLimits) -> None:
        """Put the launcher ``pid`` in the run's cgroup with what the cgroup can bound;
        the resource limits take the rest (all of it without a cgroup)."""
        if self.cgroups is not None:
            bound = self.cgroups.limits(limits.memory, spec.cpus)
            try:
                self.cgroups.place(spec.run_id, pid, bound)
            except OSError as exc:
                log.warning("process runtime: run %s not put in a cgroup (%s); resource "
                            "limits apply", spec.run_id, exc)
                self.cgroups.remove(spec.run_id)
            else:
                limits = dataclasses.replace(
                    limits, memory=None if bound.memory is not None else limits.memory,
                    cores=None if bound.cpus is not None else limits.cores)
        limits.apply(pid)

    def _exit_info(self, handle: str, fallback: int) -> ExitInfo:
        _, exit_file, log_file = self._files(handle)
        code = exit_code(exit_file)
        return ExitInfo(exit_code=fallback if code is None else code,
                        logs=log_tail(log_file, self.log_limit))

    def _await_exit_file(self, handle: str, timeout: float) -> None:
        """Give the warm starter a moment to record a killed child's code (it reaps the
        child just after the child ends)."""
        exit_file = self._files(handle)[1]
        deadline = time.monotonic() + timeout
        while exit_code(exit_file) is None and time.monotonic() < deadline:
            time.sleep(0.002)

    def _wait_child(self, handle: str, child: subprocess.Popen[bytes],
                    timeout: float | None) -> int | None:
        """The exit code of our own child, or None on timeout.

        Why a pidfd: ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which every
        run would pay at its end; the pidfd wakes us when the process exits.
        """
        fd = self._pidfds.get(handle)
        ended = None if fd is None or child.returncode is not None else _poll_fd(fd, timeout)
        if ended is False:
            return None
        try:
            return child.wait(None if ended else timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, handle: str, timeout: float | None = None) -> ExitInfo | None:
        child = self._children.get(handle)
        if child is not None:
            code = self._wait_child(handle, child, timeout)
            if code is None:
                return None
            return self._exit_info(handle, code if code >= 0 else 128 - code)
        state = self._state(handle)
        if state is None:
            return self._exit_info(handle, -1)
        if not _wait_foreign(int(state["pid"]), state.get("start_time"), timeout):
            return None
        if state.get("starter") == "warm":
            self._await_exit_file(handle, 0.5)
        return self._exit_info(handle, -1)  # -1: not our child and no exit file

    def kill(self, handle: str) -> None:
        """Stop the run and every process it started, also those that left its process
        group or outlived its first process (found by their marker)."""
        state = self._state(handle)
        if state is None:
            return
        pid = int(state["pid"])
        try:
            self._kill_group(handle, state, pid)
        finally:
            if self.cgroups is not None:
                self.cgroups.kill(int(state["run_id"]))
            kill_marked(run_marker(self.state_dir, int(state["run_id"])))

    def _kill_group(self, handle: str, state: dict[str, Any], pid: int) -> None:
        if not _alive(pid, state.get("start_time")):
            if state.get("starter") == "warm":  # the starter may still be recording it
                self._await_exit_file(handle, 0.2)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and _alive(pid, state.get("start_time")):
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
        elif state.get("starter") == "warm":  # its exit file must not appear after remove()
            _wait_foreign(pid, state.get("start_time"), 0.2)
            self._await_exit_file(handle, 0.2)

    def remove(self, handle: str) -> None:
        self.kill(handle)
        self._close_relays(handle)
        child = self._children.pop(handle, None)
        if child is not None:  # reaped: a zombie would keep the run's cgroup busy
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(1.0)
        if self.cgroups is not None and handle[4:].isdigit():
            self.cgroups.remove(int(handle[4:]))
        fd = self._pidfds.pop(handle, None)
        if fd is not None:
            os.close(fd)
        for path in self._files(handle):
            path.unlink(missing_ok=True)
        for path in self._temporary_files(handle):
            path.unlink(missing_ok=True)

    def _adopt_untracked(self) -> None:
        """Write the state file of each run the warm starter recorded but the node did not.

        Why: a node killed between the warm starter's fork and its own state file left a
        run it has no record of; were it restarted blindly, the run would execute twice.
        The starter's record (written before it answered) makes the run adopted instead:
        reconciliation then watches it, or collects its exit code, like any other run of
        the previous life. (A launcher run needs no such record: it does not execute
        before the node has written its state file.)
        """
        for pid_file in sorted(self.state_dir.glob("run-*.pid")):
            handle = pid_file.stem
            state_file = self._files(handle)[0]
            record = run_state(pid_file)
            if state_file.exists() or record is None or not handle[4:].isdigit() \
                    or not isinstance(record.get("pid"), int):
                continue
            log.warning("process runtime: run %s was started (pid %s) but never recorded; "
                        "adopting it instead of starting the run again", handle[4:],
                        record.get("pid"))
            self._write_state(state_file, {**record, "run_id": int(handle[4:]),
                                           "starter": "warm"})

    def list_managed(self) -> list[ManagedJob]:
        self._adopt_untracked()
        jobs = []
        for state_file in sorted(self.state_dir.glob("run-*.json")):
            handle = state_file.stem
            state = self._state(handle)
            if state is None:
                continue
            child = self._children.get(handle)
            running = (child.poll() is None) if child is not None else _alive(
                int(state["pid"]), state.get("start_time"))
            jobs.append(ManagedJob(handle=handle, run_id=int(state["run_id"]),
                                   running=running))
        if self.cgroups is not None:
            self.cgroups.sweep({job.run_id for job in jobs})
        return jobs

    def close(self) -> None:
        """Stop the warm starter (it lingers only while its runs do). Runs outlive the node
        and are reconciled at its start."""
        if self.warm_starter is not None:
            self.warm_starter.close()
        if self.tunnels is not None:
            self.tunnels.close()
        if self.cgroups is not None:
            self.cgroups.release()
        for handle in list(self._pidfds):
            os.close(self._pidfds.pop(handle))
