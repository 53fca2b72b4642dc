"""Servers and nodes in the background: start detached, stop, follow their logs.

``v6 server start`` and ``v6 node start`` (without ``--attach``) start
``v6 ... start --attach`` as a detached child in its own session, with its output
appended to a log file (0600), and return once it is ready. The child writes its own pid
file (see :mod:`v6lib.pid_files`), by which ``stop``, ``list`` and ``attach`` find it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from v6lib.errors import ServerUnavailableError
from v6lib.pid_files import is_alive
from v6lib.private_files import make_private_dir, private_opener

__all__ = ["V6", "follow_log", "log_tail", "spawn", "terminate"]

#: The ``v6`` command of this interpreter, whether or not its script is on PATH.
V6 = (sys.executable, "-c", "from v6lib.cli import main; main(prog_name='v6')")


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def spawn(argv: Sequence[str], log_file: Path, *, ready: Callable[[int], bool],
          timeout: float, env: Mapping[str, str] | None = None,
          what: str = "process") -> int:
    """Start ``argv`` detached, output appended to ``log_file`` (0600); return its pid
    once ``ready(pid)`` holds.

    Raises:
        ServerUnavailableError: the child ended before it was ready (with its last log
            lines), or was not ready within ``timeout`` seconds (it is stopped then).
    """
    make_private_dir(log_file.parent)
    with open(log_file, "ab", opener=private_opener) as log:
        child = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 env={**os.environ, **(env or {})})
    deadline = time.monotonic() + timeout
    while not ready(child.pid):
        if child.poll() is not None:
            raise ServerUnavailableError(
                f"{what} exited with code {child.returncode} while starting; last lines of "
                f"{log_file}:\n{log_tail(log_file)}")
        if time.monotonic() > deadline:
            _signal(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _signal(child.pid, signal.SIGKILL)
                child.wait(timeout=5)
            raise ServerUnavailableError(
                f"{what} was not ready after {timeout:g} s and was stopped; last lines of "
                f"{log_file}:\n{log_tail(log_file)}")
        time.sleep(0.2)
    return child.pid


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        try:
            leads_group = os.getpgid(pid) == pid
        except ProcessLookupError:
            return
        # NOTE: a background instance leads its own session: its workers and algorithm
        # processes go with it; a foreground one is signalled alone
        if leads_group and sig == signal.SIGKILL:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def terminate(pid: int, *, grace: float = 30.0, force: bool = False) -> bool:
    """Stop ``pid`` (SIGTERM, or SIGKILL when ``force``) and wait up to ``grace`` seconds.

    Returns:
        Whether the process has ended.
    """
    _signal(pid, signal.SIGKILL if force else signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def follow_log(log_file: Path, alive: Callable[[], bool], write: Callable[[str], None], *,
               lines: int = 20, pause: float = 0.2) -> None:
    """Print the last ``lines`` of ``log_file``, then what is added, until ``alive()`` is
    false (everything written until then is printed). Ctrl+C stops following only."""
    tail = log_tail(log_file, lines)
    if tail:
        write(tail)
    try:
        with open(log_file, encoding="utf-8", errors="replace") as fh:
            fh.seek(0, os.SEEK_END)
            pending = ""
            while True:
                running = alive()
                chunk = fh.read()
                if chunk:
                    pending += chunk
                    *complete, pending = pending.split("\n")
                    for line in complete:
                        write(line)
                if not running:
                    if pending:
                        write(pending)
                    return
                if not chunk:
                    time.sleep(pause)
    except FileNotFoundError:
        return
