"""The process tree as /proc shows it, for tests that kill processes and look for leftovers.

Orphans are reparented to init, which in a container may reap them late: a zombie has
ended, so ``running`` counts it as gone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["children", "descendants", "running", "tagged", "wait_gone"]


def _stat(pid: int) -> list[str] | None:
    """The fields after the command name in /proc/<pid>/stat (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def running(pid: int) -> bool:
    """Whether ``pid`` exists and has not ended (a zombie has)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    """The running processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and fields[0] not in ("Z", "X") and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on of ``pid`` (while it still has them)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        kids = [kid for parent in frontier for kid in children(parent)]
        found.extend(kids)
        frontier = kids
    return found


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` s for ``pids`` to end; those still running afterwards."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        time.sleep(0.1)
        pending = [pid for pid in pending if running(pid)]
    return [pid for pid in pending if running(pid)]


def tagged(name: str, value: str) -> list[int]:
    """The running processes whose environment holds ``name=value``.

    Why: a process that outlived its parent is no longer anyone's descendant; a variable
    set for a test's processes is inherited by everything they start, orphans included.
    """
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if needle in environ.split(b"\0") and running(int(entry)):
                found.append(int(entry))
    return found
