"""How the Docker runtime starts any image: through v6lib's launcher, then the image's command.

Why: a container has no network, and only v6lib's own wrapper relays ``HOST:PORT`` to
the node proxy's socket. Images built with vantage6's wrapper (or any other) would find
``HOST:PORT`` refusing connections. So every container's entrypoint becomes
:mod:`v6lib.wrappers.launcher`, bind-mounted read-only with the relay it starts
(:mod:`v6lib.wrappers.proxy_bridge`; both standard library only), and its command the
image's own ENTRYPOINT and CMD, read from the image: the launcher starts the relay and
then runs them unchanged. The image needs ``python3`` on its ``PATH``; one without it
cannot start, and the run fails saying so (:func:`start_problem`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from v6lib.wrappers import launcher, proxy_bridge

__all__ = ["LAUNCH_DIR", "launch_command", "launch_mounts", "start_problem"]

#: Where the launcher and the relay appear inside every container (read-only).
LAUNCH_DIR = PurePosixPath("/mnt/v6-launch")
_FILES = (Path(launcher.__file__), Path(proxy_bridge.__file__))
LAUNCHER = LAUNCH_DIR / Path(launcher.__file__).name
#: ``-I``: the image's PYTHON* variables and site-packages cannot change the launcher;
#: ``-S``: no site import, the launcher needs only the standard library.
INTERPRETER = ("python3", "-I", "-S")


def launch_mounts() -> list[Any]:
    """Read-only bind mounts of the launcher and the relay, file by file."""
    from docker.types import Mount

    return [Mount(str(LAUNCH_DIR / source.name), str(source.resolve()), type="bind",
                  read_only=True) for source in _FILES]


def launch_command(image_config: Mapping[str, Any]) -> dict[str, list[str]]:
    """``entrypoint`` and ``command`` for a container of the image whose ``Config``
    (``docker image inspect``) is ``image_config``: the launcher, then the image's own
    ENTRYPOINT and CMD, as Docker would have run them (an image without either gets the
    launcher's own message)."""
    original = [*(image_config.get("Entrypoint") or []), *(image_config.get("Cmd") or [])]
    return {"entrypoint": list(INTERPRETER[:1]),
            "command": [*INTERPRETER[1:], str(LAUNCHER), "--", *original]}


def start_problem(error: BaseException, image: str) -> str | None:
    """The reason to give when the engine could not start ``image`` because it has no
    ``python3`` for the launcher; None for any other error."""
    text = str(error)
    if "python3" in text and ("executable file not found" in text
                              or "no such file or directory" in text):
        return (f"image {image!r} has no python3 on its PATH: the node starts every "
                "algorithm through its Python launcher, which makes HOST:PORT reach the "
                "node proxy inside the network-less container; build the image on a "
                "Python base image")
    return None
