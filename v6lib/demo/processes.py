"""Child processes of the demo: start with a log file, wait for readiness, stop for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from v6lib.errors import ServerUnavailableError

__all__ = ["ManagedProcess", "free_port", "http_ok", "log_tail", "wait_until"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file (empty when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """A child in its own process group, so stopping it also stops what it started."""

    name: str
    argv: Sequence[str]
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    #: The polite signal; gunicorn, for one, shuts down at once on SIGINT but lets
    #: kept-alive connections linger on SIGTERM.
    stop_signal: int = signal.SIGTERM
    #: Seconds between the polite signal and SIGKILL.
    stop_grace: float = 10.0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                list(self.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env}, cwd=self.cwd, start_new_session=True)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        """Raise with the log tail when the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ServerUnavailableError(
                f"{self.name} exited with code {self.process.returncode}; last log lines of "
                f"{self.log_file}:\n{log_tail(self.log_file)}")

    def stop(self, grace: float | None = None) -> None:
        """Signal the process group, then SIGKILL whatever is left after ``grace``."""
        grace = self.stop_grace if grace is None else grace
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the group id is the child's pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        # Children of the group (workers, algorithm processes) may outlive the leader.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def wait_until(check: Callable[[], bool], deadline: float, what: str,
               watch: Sequence[ManagedProcess] = (), pause: float = 0.1) -> float:
    """Call ``check`` until it is true; returns the seconds it took.

    Raises ServerUnavailableError naming ``what`` at the deadline, or as soon as a
    watched process dies (with its log tail), instead of waiting in vain.
    """
    started = time.monotonic()
    end = started + deadline
    while True:
        for process in watch:
            process.check_alive()
        if check():
            return time.monotonic() - started
        if time.monotonic() >= end:
            logs = "\n".join(f"--- {p.log_file}\n{log_tail(p.log_file)}" for p in watch)
            raise ServerUnavailableError(f"{what} not ready after {deadline:g} s\n{logs}")
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200 (used for the server's /health)."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
