"""The container's user on the host: whom a run's files are handed to, and whose output
the node accepts.

Why apart from :mod:`v6lib.node.runtime.docker`: this is where the node crosses its own
privilege boundary. A node running as root starts containers as ``nobody`` and hands
that user exactly what it made for the run (its input and token to read, its output
folder and the job's temporary folder to write) and the proxy's socket, never through a
link: a folder a container wrote may hold links to anything on the host. The same user
is the only owner whose output the node reads (:mod:`v6lib.node.untrusted_files`).
"""

from __future__ import annotations

import os
from pathlib import Path

from v6lib.errors import RuntimeUnavailableError
from v6lib.node.runtime.base import JobSpec

__all__ = ["NOBODY", "container_owner", "default_user", "hand_over_run_files",
           "hand_over_socket", "output_owner"]

NOBODY = "65534:65534"


def default_user() -> str:
    """``nobody`` when the node runs as root, else the node's own uid:gid."""
    return NOBODY if os.geteuid() == 0 else f"{os.geteuid()}:{os.getegid()}"


def container_owner(user: str) -> tuple[int, int] | None:
    """uid/gid to hand the run's files to; None when the node's own ids serve."""
    uid, _, gid = user.partition(":")
    if os.geteuid() != 0 or not uid.isdigit():
        return None  # same uid as the node, or an image user we cannot map
    return int(uid), int(gid or uid)


def output_owner(user: str) -> int:
    """The uid that owns what a container of ``user`` writes in its output folder."""
    owner = container_owner(user)
    return owner[0] if owner is not None else os.geteuid()


def hand_over_run_files(spec: JobSpec, user: str) -> None:
    """Let the container user read its input/token and write its output folder and tmp."""
    run_files = (spec.input_file, spec.token_file, spec.output_file.parent,
                 spec.temporary_folder)
    for path in run_files:
        if path.is_symlink():
            raise RuntimeUnavailableError(
                f"run {spec.run_id}: {path} is a symbolic link; the node mounts only the "
                "files and folders it made for the run")
    owner = container_owner(user)
    if owner is not None:
        for path in run_files:
            os.chown(path, *owner, follow_symlinks=False)


def hand_over_socket(socket_path: Path, user: str) -> None:
    """Let the container user connect to the proxy socket (created owner-only)."""
    if not socket_path.is_socket():
        raise RuntimeUnavailableError(
            f"the node proxy's socket {socket_path} does not exist; the proxy must be "
            "running before algorithms start")
    owner = container_owner(user)
    if owner is not None:
        os.chown(socket_path, *owner, follow_symlinks=False)
