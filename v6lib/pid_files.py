"""Pid files of servers and nodes: written 0600 by the process itself, read by ``v6``.

Why the process writes its own file: whether it was started in the foreground, in the
background or by a process manager, ``v6 ... stop``, ``list`` and ``attach`` find it the
same way. A file whose process is gone, is a zombie, or is no v6 process any more (a
recycled pid) counts as "not running".
"""

from __future__ import annotations

import os
from pathlib import Path

from v6lib.private_files import write_private

__all__ = ["is_alive", "read_pid", "remove_pid_file", "running_pid", "write_pid_file"]


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file``, or None when it is missing or not a number."""
    try:
        return int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _proc_state(pid: int) -> str | None:
    """The process state letter from /proc (None where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else None


def _is_v6(pid: int) -> bool:
    """Whether the process runs v6lib (a recycled pid of another program does not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return b"v6" in cmdline


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) v6 process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return _proc_state(pid) not in ("Z", "X") and _is_v6(pid)


def running_pid(pid_file: Path) -> int | None:
    """The pid of the running process of ``pid_file``, or None."""
    pid = read_pid(pid_file)
    return pid if pid is not None and is_alive(pid) else None


def write_pid_file(pid_file: Path, pid: int | None = None) -> None:
    """Record ``pid`` (default: this process) in a 0600 file."""
    write_private(pid_file, f"{pid or os.getpid()}\n")


def remove_pid_file(pid_file: Path, pid: int | None = None) -> None:
    """Remove ``pid_file`` if it still names ``pid`` (default: this process).

    A forked worker that unwinds through the same code leaves its parent's file alone.
    """
    if read_pid(pid_file) == (pid or os.getpid()):
        pid_file.unlink(missing_ok=True)
