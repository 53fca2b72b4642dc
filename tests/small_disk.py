"""A real size-limited file system (a tmpfs, root only) to fill up, for the tests of what
the node does when its disk is full, and the chaos suite's full-disk fault."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["fill_disk", "mounted_tmpfs"]


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, size_mb: int) -> Iterator[str | None]:
    """Mount a ``size_mb`` tmpfs at ``folder`` while the block runs; yields ``None`` when
    mounted, else why not (not root, or the mount was refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                              str(folder)], capture_output=True, check=False)
    if mounted.returncode != 0:
        yield mounted.stderr.decode().strip() or f"mount exited with {mounted.returncode}"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill_disk(folder: Path, leave_bytes: int = 0, name: str = "filler") -> Path:
    """Write a file into ``folder`` until at most ``leave_bytes`` stay free on its disk."""
    path = folder / name
    with path.open("ab", buffering=0) as fh:  # unbuffered: close() has nothing left to fail
        while (free := shutil.disk_usage(folder).free) > leave_bytes:
            try:
                fh.write(b"\0" * max(4096, min(1 << 20, free - leave_bytes)))
            except OSError:
                break
    return path
