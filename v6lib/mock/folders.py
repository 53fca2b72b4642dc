"""The mock nodes' disks: each organization's run folders, in the node's own layout.

A node keeps a run's input, token and output files in ``<task_dir>/jobs/<job>/<run>/``
and the job's temporary folder beside it (:func:`v6lib.wrappers.contract.run_paths`); it
removes a run's folder when the run ends, and the job's folder with the job's last run
on the node. The mock does the same under one temporary folder, with a task directory
``organization_<id>`` per organization, so an algorithm meets the same lifetimes: the
``TEMPORARY_FOLDER`` is shared by the runs of one job at one organization while any of
them runs, and does not keep state from one round of partials to the next at an
organization where nothing of the job runs in between (a node clears it too).

Where: in a RAM-backed folder when the machine has one with room (``/dev/shm`` on Linux,
at least :data:`RAM_FOLDER_MIN_FREE` free, unless ``TMPDIR`` names a place), else in the
system's temporary folder. A container's ``/tmp`` is RAM-backed too, and on a slow disk
the folders' creation and removal would cost each run milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from v6lib.wrappers.contract import RunPaths, run_paths

__all__ = ["RAM_FOLDER", "RAM_FOLDER_MIN_FREE", "RUN_HOME", "RunFolders", "parent_folder"]

RAM_FOLDER = "/dev/shm"
RAM_FOLDER_MIN_FREE = 1 << 30
#: the run's private folder inside its run folder (its HOME and temporary directory)
RUN_HOME = "home"


def _inside_run(paths: RunPaths) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The files, then the folders (innermost first), of a run's folder, relative to it."""
    def relative(path: Path) -> str:
        return str(path.relative_to(paths.run_dir))

    files = tuple(relative(p) for p in (paths.input_file, paths.token_file, paths.output_file))
    return files, (relative(paths.output_dir), RUN_HOME)


_RUN_FILES, _RUN_FOLDERS = _inside_run(run_paths("/", 0, 0))


def _remove(folder: str, files: tuple[str, ...], folders: tuple[str, ...]) -> None:
    """Remove ``folder``, expected to hold only ``files`` and the ``folders`` they empty.

    NOTE: removing what is expected name by name costs a fraction of ``shutil.rmtree``,
    which every run would pay; anything else the run left there falls back to it.
    """
    try:
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, name))
        for name in folders:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(os.path.join(folder, name))
        os.rmdir(folder)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def parent_folder() -> str | None:
    """Where the run folders go: :data:`RAM_FOLDER` if usable, else None (the system's
    temporary folder)."""
    if os.environ.get("TMPDIR"):
        return None
    try:
        usable = (os.access(RAM_FOLDER, os.W_OK | os.X_OK)
                  and shutil.disk_usage(RAM_FOLDER).free >= RAM_FOLDER_MIN_FREE)
    except OSError:
        return None
    return RAM_FOLDER if usable else None


class RunFolders:
    """Run folders for every organization of one network, under one temporary root."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: tempfile.TemporaryDirectory[str] | None = None
        self._users: dict[Path, int] = {}  # a job's folder at an organization -> its runs

    @property
    def root(self) -> Path:
        """The folder holding every organization's task directory (made on first use)."""
        with self._lock:
            if self._root is None:
                self._root = tempfile.TemporaryDirectory(prefix="v6mock-",
                                                         dir=parent_folder())
            return Path(self._root.name)

    def task_dir(self, organization_id: int) -> Path:
        """The organization's node task directory."""
        return self.root / f"organization_{organization_id}"

    def temporary_folder(self, job_id: int, organization_id: int) -> Path:
        """Where the job's TEMPORARY_FOLDER at the organization is (made if absent)."""
        folder = run_paths(self.task_dir(organization_id), job_id, 0).temporary_folder
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def open(self, organization_id: int, job_id: int, run_id: int) -> RunPaths:
        """Make the run's folder (and the job's temporary folder, if this is the only run
        of the job at the organization); :meth:`close` removes them again."""
        paths = run_paths(self.task_dir(organization_id), job_id, run_id)
        job_dir = paths.temporary_folder.parent
        with self._lock:
            users = self._users[job_dir] = self._users.get(job_dir, 0) + 1
            if users == 1:
                os.makedirs(paths.temporary_folder, exist_ok=True)
        os.mkdir(paths.run_dir)
        os.mkdir(paths.output_dir)
        return paths

    def close(self, paths: RunPaths) -> None:
        """Remove the run's folder, and the job's folder after its last running run."""
        _remove(str(paths.run_dir), _RUN_FILES, _RUN_FOLDERS)
        job_dir = paths.temporary_folder.parent
        with self._lock:
            left = self._users.get(job_dir, 1) - 1
            if left:
                self._users[job_dir] = left
                return
            self._users.pop(job_dir, None)
            _remove(str(job_dir), (), (paths.temporary_folder.name,))

    def cleanup(self) -> None:
        """Remove every folder (the network is closing; its runs have ended)."""
        with self._lock:
            if self._root is not None:
                self._root.cleanup()
                self._root = None
            self._users.clear()
