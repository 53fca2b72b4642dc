"""Files only their owner may read: 0600 files and 0700 directories, created atomically.

The server and the node write secrets to disk (configs with passwords and API keys, the
token-signing key, databases, logs). Each such file is created with its final mode from
the first byte on, never created world-readable and tightened afterwards, so there is no
moment in which another local user can open it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "SQLITE_COMPANIONS",
    "is_private",
    "make_private_dir",
    "private_opener",
    "private_sqlite_file",
    "restrict",
    "touch_private",
    "write_private",
]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700

#: SQLite's companion files; SQLite creates them with the main file's mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("v6lib.files")


def is_private(path: str | os.PathLike[str]) -> bool:
    """True when neither the group nor others have any access to ``path``."""
    return not os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def make_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its missing parents with mode 0700; return it.

    Directories that already exist keep their mode: an operator may have chosen it
    (``/var/log``, a shared mount), and changing it could lock others out.
    """
    target = Path(path)
    missing: list[Path] = []
    current = target
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            os.mkdir(directory, PRIVATE_DIR_MODE)
    return target


def restrict(path: str | os.PathLike[str]) -> None:
    """Make an existing file 0600 (files of earlier versions were created 0644).

    A missing file is fine; a file of another owner is left as it is, with a warning.
    """
    try:
        if not is_private(path):
            os.chmod(path, PRIVATE_FILE_MODE)
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("%s: readable by other users and not ours to chmod; chmod 600 it", path)


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates missing files 0600."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def touch_private(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` exists as a 0600 file (empty when new); return it."""
    target = Path(path)
    make_private_dir(target.parent)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE))
    restrict(target)
    return target


def private_sqlite_file(path: str | os.PathLike[str]) -> Path:
    """Create a SQLite database file 0600 before SQLite opens it; return its path.

    SQLite would create it 0644. It creates its ``-wal``, ``-shm`` and ``-journal``
    files with the mode of the main file, so a private main file keeps them private too;
    companions left by an earlier version are tightened here.
    """
    target = touch_private(path)
    for suffix in SQLITE_COMPANIONS:
        restrict(f"{target}{suffix}")
    return target


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem can sync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_private(path: str | os.PathLike[str], data: bytes | str, *,
                  exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` as a 0600 file, atomically.

    The bytes go to a temporary file first (``mkstemp``: ``O_EXCL``, mode 0600), are
    fsynced, and the file then takes its name in one step, so a reader sees the old
    content or the complete new one, never a part.

    Args:
        exclusive: never replace an existing file. The name is taken with ``link()``,
            which fails when it exists, as ``O_EXCL`` would, so of several processes
            racing to create the file exactly one wins.

    Returns:
        False when ``exclusive`` and the file already existed (nothing written).
    """
    target = Path(path)
    directory = make_private_dir(target.parent if str(target.parent) else Path("."))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp_name, target)
            except FileExistsError:
                return False
        else:
            os.replace(tmp_name, target)
        _fsync_dir(directory)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
