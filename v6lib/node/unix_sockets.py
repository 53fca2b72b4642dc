"""Listening on a Unix socket that containers connect to, whatever the path's length.

Why apart: the node proxy and the per-run relays both serve network-less containers
through Unix sockets in the node's task directory, and both need the same care: the
socket is created owner-only (the runtime hands it to the container user), a stale
socket of an earlier life is replaced, and the directory lets containers traverse it
but not list it.
"""

from __future__ import annotations

import os
import socketserver
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["listen_unix"]

_Server = TypeVar("_Server", bound=socketserver.BaseServer)


def listen_unix(path: Path, server_class: type[_Server], handler: Any) -> _Server:
    """``server_class(path, handler)`` bound owner-only at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o711)  # containers may traverse it, not list it
    if path.is_socket():
        path.unlink()
    old_umask = os.umask(0o177)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # NOTE: a socket path is limited to 107 bytes and task directories can be longer:
        # binding through the directory's descriptor keeps the path short, whatever it is.
        return server_class(f"/proc/self/fd/{directory}/{path.name}", handler)
    finally:
        os.close(directory)
        os.umask(old_umask)
