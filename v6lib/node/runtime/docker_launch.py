"""How the Docker runtime starts any image: through v6lib's launcher, then the image's command.

Why: a container has no network, and only v6lib's own wrapper relays ``HOST:PORT`` to
the node proxy's socket. Images built with vantage6's wrapper (or any other) would find
``HOST:PORT`` refusing connections. So their containers' entrypoint becomes
:mod:`v6lib.wrappers.launcher`, bind-mounted read-only with the relay it starts
(:mod:`v6lib.wrappers.proxy_bridge`; both standard library only), and its command the
image's own ENTRYPOINT and CMD, read from the image: the launcher starts the relay and
then runs them unchanged. The image needs ``python3`` on its ``PATH``; one without it
cannot start, and the run fails saying so (:func:`start_problem`). Images whose command
runs v6lib's wrapper start as they are: the wrapper relays by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from v6lib.wrappers import launcher, proxy_bridge

__all__ = ["INTERPRETER", "LAUNCHER", "LAUNCH_DIR", "launch_command", "launch_files",
           "launch_mounts", "runs_v6lib_wrapper", "start_problem"]

#: Where the launcher and the relay appear inside every container (read-only).
LAUNCH_DIR = PurePosixPath("/mnt/v6-launch")
_FILES = (Path(launcher.__file__), Path(proxy_bridge.__file__))
LAUNCHER = LAUNCH_DIR / Path(launcher.__file__).name
#: What the command of an image that runs v6lib's wrapper names.
WRAPPER_MODULE = "v6lib.wrappers"
#: ``-I``: the image's PYTHON* variables and site-packages cannot change the launcher;
#: ``-S``: no site import, the launcher needs only the standard library.
INTERPRETER = ("python3", "-I", "-S")


def launch_files() -> list[tuple[Path, PurePosixPath]]:
    """(file on the node, where the container sees it) of the launcher and the relay."""
    return [(source.resolve(), LAUNCH_DIR / source.name) for source in _FILES]


def launch_mounts() -> list[Any]:
    """Read-only bind mounts of the launcher and the relay, file by file."""
    from docker.types import Mount

    return [Mount(str(target), str(source), type="bind", read_only=True)
            for source, target in launch_files()]


def runs_v6lib_wrapper(command: Sequence[str]) -> bool:
    """Whether ``command`` runs v6lib's wrapper (``python3 -m v6lib.wrappers``, in exec or
    shell form), which relays ``HOST:PORT`` itself, as it did before the launcher: a
    relay of the launcher would take its port (wrappers of earlier versions do not know
    ``V6_PROXY_RELAYED``)."""
    return any(WRAPPER_MODULE in part for part in command)


def launch_command(image_config: Mapping[str, Any]) -> dict[str, list[str]]:
    """``entrypoint`` and ``command`` for a container of the image whose ``Config``
    (``docker image inspect``) is ``image_config``: the launcher, then the image's own
    ENTRYPOINT and CMD, as Docker would have run them (an image without either gets the
    launcher's own message). Nothing (the image's own) for an image that runs v6lib's
    wrapper (:func:`runs_v6lib_wrapper`)."""
    original = [*(image_config.get("Entrypoint") or []), *(image_config.get("Cmd") or [])]
    if runs_v6lib_wrapper(original):
        return {}
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
