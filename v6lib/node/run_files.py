"""Where a run's files live on the node, and how the node makes and removes them safely.

Layout under the node's task directory::

    jobs/<job id>/tmp/                 TEMPORARY_FOLDER, shared by the job's runs here
    jobs/<job id>/<run id>/input       the decrypted input (node-written, read-only mount)
    jobs/<job id>/<run id>/token       the container token (node-written, read-only mount)
    jobs/<job id>/<run id>/output/     the only folder the algorithm may write ...
    jobs/<job id>/<run id>/output/output   ... holding OUTPUT_FILE

Why the output has a folder of its own: the runtime mounts the output's folder writable
(an algorithm writes its output next to a temporary name and renames it into place). Were
that the run's folder, the algorithm would see its input and token there and could swap
them for links before the node touches them again. Everything in ``output/`` and
``tmp/`` is hostile to the node: it is read only through
:mod:`v6lib.node.untrusted_files` and removed without following a link out of the tree
(:func:`shutil.rmtree`, or ``rm -rf`` for a tree too deep for it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from v6lib.private_files import make_private_dir

__all__ = ["RunPaths", "prepare_run_files", "remove_run_files", "run_paths"]

_PRIVATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# NOTE: shutil.rmtree removes a tree through directory descriptors, without following
# links out of it, only where the platform allows; the node relies on that.
assert shutil.rmtree.avoids_symlink_attacks, "this platform's rmtree follows links"


@dataclass(frozen=True)
class RunPaths:
    """The host paths of one run's files (see the module docstring)."""

    run_dir: Path
    input_file: Path
    output_file: Path
    token_file: Path
    temporary_folder: Path

    @property
    def output_dir(self) -> Path:
        """The folder the algorithm may write; it holds ``output_file``."""
        return self.output_file.parent

    @property
    def job_dir(self) -> Path:
        return self.temporary_folder.parent


def run_paths(task_dir: Path, job_id: int, run_id: int) -> RunPaths:
    """Where a run's files live: ``<task_dir>/jobs/<job>/<run>/``; tmp shared per job."""
    job_dir = Path(task_dir) / "jobs" / str(int(job_id))
    run_dir = job_dir / str(int(run_id))
    return RunPaths(run_dir, run_dir / "input", run_dir / "output" / "output",
                    run_dir / "token", job_dir / "tmp")


def _remove_tree(path: Path) -> None:
    """Remove ``path`` and what is in it, never following a link out of it."""
    with contextlib.suppress(RecursionError):
        shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        # NOTE: rmtree recurses and holds a descriptor per level, and a run may leave a
        # folder thousands of levels deep; GNU rm walks any depth, without following links.
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)],
                       stdin=subprocess.DEVNULL, capture_output=True, check=False)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` (owner-only) and write it; never through an existing file or link."""
    fd = os.open(path, _PRIVATE, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def prepare_run_files(paths: RunPaths, plain_input: bytes, token: str) -> None:
    """A fresh run folder with the input, the token and an empty output folder.

    A folder left by an earlier start of the same run (the node died after starting a
    container) is removed first: its algorithm may have left links where the node is
    about to write.
    """
    if paths.run_dir.is_symlink():
        paths.run_dir.unlink()
    elif paths.run_dir.exists():
        _remove_tree(paths.run_dir)
    make_private_dir(paths.job_dir)
    paths.run_dir.mkdir(mode=0o700)
    paths.output_dir.mkdir(mode=0o700)
    paths.temporary_folder.mkdir(mode=0o700, exist_ok=True)
    _write_private(paths.input_file, plain_input)
    _write_private(paths.token_file, token.encode("ascii"))


def remove_run_files(paths: RunPaths, *, last_of_job: bool) -> None:
    """Remove the run's folder; with ``last_of_job`` the job's folder and tmp as well."""
    _remove_tree(paths.run_dir)
    if last_of_job:
        _remove_tree(paths.job_dir)
