"""The ``docker`` command, for building images from the developer's machine.

The command rather than the Docker SDK: its ``build`` and ``commit`` are what a developer
would type, the SDK is an extra of the node (``v6lib[node]``), and ``v6 algorithm build``
must work wherever the command does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from v6lib.errors import RuntimeUnavailableError

__all__ = ["docker", "image_config"]


def docker(args: Sequence[str], *, timeout: float = 1800.0) -> str:
    """Run ``docker ARGS``; its standard output.

    Raises:
        RuntimeUnavailableError: no ``docker`` command, or it failed (its last lines say why).
    """
    command = shutil.which("docker")
    if command is None:
        raise RuntimeUnavailableError(
            "the docker command was not found; install Docker to build algorithm images")
    done = subprocess.run([command, *args], capture_output=True, text=True, check=False,
                          timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise RuntimeUnavailableError(f"`docker {' '.join(args[:2])} ...` failed:\n{tail}")
    return done.stdout


def image_config(image: str) -> dict[str, Any]:
    """The ``Config`` of a local image (Cmd, Entrypoint, User, Labels, ...)."""
    config: dict[str, Any] = json.loads(
        docker(["image", "inspect", "--format", "{{json .Config}}", image]) or "{}")
    return config
