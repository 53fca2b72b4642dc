"""Free space in the node's task folder, checked before the node takes on new work.

Why: a run needs room for its input, its output and the journal rows about it. A node
that claims runs on a full disk leaves them half-started; a node that refuses them up
front can tell the researcher why (``node disk full: N MB free in <folder>``) while the
runs it already holds go on and finish once space returns.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from v6lib.errors import RuntimeUnavailableError

__all__ = ["DiskFullError", "check_free_space", "disk_full_reason", "free_mb", "is_disk_full"]

_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(RuntimeUnavailableError):
    """The node's task folder has less free space than ``min_free_disk_mb``."""

    code = "disk_full"


def free_mb(folder: Path) -> int:
    """Megabytes available to the node's user in the file system holding ``folder``
    (its nearest existing ancestor when it is not made yet)."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free // (1024 * 1024)


def disk_full_reason(folder: Path) -> str:
    """The reason a run gets when the node's disk is (nearly) full."""
    return f"node disk full: {free_mb(folder)} MB free in {folder}"


def check_free_space(folder: Path, minimum_mb: int) -> None:
    """Raise :class:`DiskFullError` when ``folder`` has less than ``minimum_mb`` free."""
    if free_mb(folder) < minimum_mb:
        raise DiskFullError(disk_full_reason(folder) +
                            f" (the node needs at least {minimum_mb} MB)")


def is_disk_full(exc: BaseException) -> bool:
    """True for an error caused by a full disk or an exhausted quota (also wrapped)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL:
            return True
        if "database or disk is full" in str(current):  # SQLite's SQLITE_FULL
            return True
        current = current.__cause__ or current.__context__
    return False
