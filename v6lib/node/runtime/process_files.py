"""How the node reads a process-runtime run's state, exit and log files.

Why apart: these files live in the runtime's state folder, which a run (a process of
the node's own user) could write like any other file of the node; the process runtime
defends nothing against its algorithms. The node still reads them only through
:mod:`v6lib.node.untrusted_files`, so a link or a named pipe left in their place can
neither hang the node's watcher nor smuggle another file into a run's log.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from v6lib.errors import UnsafeFileError
from v6lib.node.untrusted_files import open_untrusted

__all__ = ["EXIT_RESERVE", "exit_code", "log_tail", "reserve_exit_file", "run_state"]

_EXIT_BYTES = 32  # an exit file holds a number
EXIT_RESERVE = b" " * 16
"""What an exit file holds until a code is written over its first bytes (no code yet)."""
_STATE_BYTES = 64 * 1024  # a state file holds a few ids


def _owner(owner: int | None) -> int:
    return os.geteuid() if owner is None else owner


def log_tail(path: Path, limit: int, owner: int | None = None) -> str:
    """The last ``limit`` bytes of a run's log ("" when there is none).

    ``owner``: the uid the run's files belong to (the node's own by default; a warm
    container's user for :mod:`v6lib.node.runtime.docker_warm`)."""
    try:
        with open_untrusted(path.parent, path.name, owner=_owner(owner), limit=None,
                            what="the run's log") as file:
            data, size = file.tail(limit)
    except FileNotFoundError:
        return ""
    except UnsafeFileError as exc:
        return f"[v6lib: the node did not read the run's log: {exc.message}]\n"
    text = data.decode("utf-8", "replace")
    return f"[log truncated to the last {limit} bytes]\n{text}" if size > limit else text


def reserve_exit_file(path: Path) -> None:
    """Create a run's exit file, blank, before the run starts.

    Why: the launcher and the warm starter write the exit code over these bytes in
    place, which needs no new disk block; with a temporary file and a rename a run that
    ends while the disk is full would lose its code, and with it a result it had
    written. Raises OSError (a full disk among others) before anything ran.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    try:
        if os.write(fd, EXIT_RESERVE) != len(EXIT_RESERVE):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def exit_code(path: Path, owner: int | None = None) -> int | None:
    """The code in a run's exit file; None when there is none (a blank reserved file
    included) or it is not a plain file."""
    try:
        with open_untrusted(path.parent, path.name, owner=_owner(owner), limit=_EXIT_BYTES,
                            what="the run's exit file") as file:
            return int(file.read_all().strip())
    except (FileNotFoundError, UnsafeFileError, ValueError):
        return None


def run_state(path: Path, owner: int | None = None) -> dict[str, Any] | None:
    """A run's state file (pid, start time, ids); None when there is none or it is bad."""
    try:
        with open_untrusted(path.parent, path.name, owner=_owner(owner), limit=_STATE_BYTES,
                            what="the run's state file") as file:
            state = json.loads(file.read_all())
    except (FileNotFoundError, UnsafeFileError, ValueError):
        return None
    return state if isinstance(state, dict) else None
