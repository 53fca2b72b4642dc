"""The first process of every Docker algorithm container: the proxy relay, then the image.

Why: a container has no network; its one way out is the node proxy's Unix socket. v6lib's
own wrapper relays ``127.0.0.1:PORT`` to that socket, but images built with vantage6's
wrapper (or none) do not, and their algorithm client would retry ``HOST:PORT`` forever.
The node therefore starts every container with this script as its entrypoint (mounted
read-only next to :mod:`proxy_bridge`, both standard library only) followed by the
image's own ENTRYPOINT and CMD::

    python3 -I -S /mnt/v6-launch/launcher.py -- <the image's entrypoint and command>

It forks: the child starts the relays the contract names
(``proxy_bridge.start_from_environ``) and serves them until its parent ends; the parent
waits until they listen, then replaces itself with the image's command, which keeps the
container's process 1, its signals and exit code. The command's environment is the
container's, plus ``V6_PROXY_RELAYED=1`` once the relay listens, so v6lib's own wrapper
does not bind the same port again (an algorithm that speaks HTTP on ``PROXY_SOCKET``
itself still finds it). Nothing else is reachable: the relay connects only to the
mounted socket.
"""

from __future__ import annotations

import os
import sys
import time
from types import ModuleType

# NOTE: no ``typing``, ``collections.abc`` or ``importlib.util`` at run time: they are
# the launcher's biggest imports, paid before every run of the images it serves.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn

__all__ = ["RELAYED", "command_environment", "main"]

#: Set in the command's environment once the relay listens (the contract's
#: ``RELAYED_VARIABLE``; repeated here because the container has no v6lib to import).
RELAYED = "V6_PROXY_RELAYED"
#: Exit status when the relay cannot start (EX_UNAVAILABLE) or the command is missing.
EXIT_NO_RELAY = 69
EXIT_USAGE = 64
EXIT_NOT_FOUND = 127
_PARENT_POLL = 0.5


def _bridge() -> ModuleType:
    """``proxy_bridge``, loaded from the file next to the launcher (the container has no
    v6lib); by path, so nothing in that folder can shadow a standard module."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proxy_bridge.py")
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec")
    module = ModuleType("proxy_bridge")
    module.__file__ = path
    sys.modules[module.__name__] = module  # dataclasses and pickling look modules up there
    exec(code, module.__dict__)
    return module


def command_environment(environ: Mapping[str, str], relayed: bool) -> dict[str, str]:
    """The image command's environment: ``environ``, saying whether the relay listens."""
    env = {k: v for k, v in environ.items() if k != RELAYED}
    if relayed:
        env[RELAYED] = "1"
    return env


def _serve_relay(ready: int, parent: int) -> NoReturn:
    """In the child: start the relays, report on ``ready``, serve while ``parent`` lives."""
    try:
        bridge = _bridge().start_from_environ(os.environ)
    except Exception as exc:  # any reason the relay cannot run ends the container
        os.write(ready, f"error: {type(exc).__name__}: {exc}".encode())
        os._exit(1)
    os.write(ready, b"ok" if bridge is not None else b"none")
    os.close(ready)
    if bridge is None:
        os._exit(0)
    while os.getppid() == parent:  # outside a container, end with the command
        time.sleep(_PARENT_POLL)
    os._exit(0)


def _start_relay() -> str:
    """Fork the relay; ``"ok"`` once it listens, ``"none"`` when the environment names no
    proxy socket, else the reason it cannot start."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _serve_relay(write_end, parent)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    status = b"".join(chunks).decode("utf-8", "replace")
    if status == "none":
        os.waitpid(child, 0)
    return status or "the relay process died"


def main(argv: Sequence[str] | None = None) -> int:
    """Start the relay and exec the command after ``--``; returns only on failure."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.stderr.write("v6lib launcher: the image has no ENTRYPOINT or CMD to run\n")
        return EXIT_USAGE
    status = _start_relay()
    if status not in ("ok", "none"):
        sys.stderr.write(f"v6lib launcher: the relay to the node proxy cannot start "
                         f"({status})\n")
        return EXIT_NO_RELAY
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(args[0], args, command_environment(os.environ, status == "ok"))
    except OSError as exc:
        sys.stderr.write(f"v6lib launcher: cannot run the image's command {args[0]!r}: "
                         f"{exc.strerror or exc}\n")
        return EXIT_NOT_FOUND
    raise AssertionError("unreachable: exec returned")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
