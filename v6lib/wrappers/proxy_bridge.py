"""Inside a network-less container: relay loopback ports to the node's Unix sockets.

Why: the Docker runtime starts algorithm containers with no network at all (not even an
internal one), which is both the strongest cage and the fastest start. Their only way
out is the node proxy's Unix socket, bind-mounted at ``PROXY_SOCKET``. Algorithms (and
any HTTP library they use, or subprocesses they start) keep the contract's ``HOST`` /
``PORT``: this relay listens there on the container's own loopback interface and copies
bytes to and from the socket, one thread per connection, for as long as the wrapper
process lives. It reads and changes nothing in the traffic.

The same relay serves the run's network databases and allowlisted destinations:
``V6_RELAYS`` holds comma-separated ``PORT=SOCKET_PATH`` pairs, one per socket the node
opened for this run only (see :mod:`v6lib.node.relays`), and the run's database URIs
point at ``127.0.0.1:PORT``.

Only the standard library is imported, so the relay costs nothing at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import socketserver
import threading
from collections.abc import Mapping

__all__ = ["ENV_RELAYS", "ENV_SOCKET", "ProxyBridge", "pump", "relay_pairs", "start_from_environ"]

log = logging.getLogger(__name__)

ENV_SOCKET = "PROXY_SOCKET"
ENV_RELAYS = "V6_RELAYS"
_CHUNK = 1 << 16


def pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copy both directions until both sides have finished sending."""
    peers = {client: upstream, upstream: client}
    selector = selectors.DefaultSelector()
    for sock in peers:
        selector.register(sock, selectors.EVENT_READ)
    open_reads = 2
    try:
        while open_reads:
            for key, _ in selector.select():
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = source.recv(_CHUNK)
                except OSError:
                    data = b""
                if data:
                    peers[source].sendall(data)
                    continue
                selector.unregister(source)
                open_reads -= 1
                with contextlib.suppress(OSError):
                    peers[source].shutdown(socket.SHUT_WR)
    finally:
        selector.close()


class _RelayHandler(socketserver.BaseRequestHandler):
    server: _RelayServer

    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.server.socket_path)
        except OSError as exc:
            log.warning("node proxy socket %s unreachable: %s", self.server.socket_path, exc)
            upstream.close()
            return
        with upstream:
            try:
                pump(self.request, upstream)
            except OSError as exc:  # a side went away mid-transfer: drop the connection
                log.debug("proxy relay connection ended: %s", exc)


class _RelayServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, socket_path: str) -> None:
        self.socket_path = socket_path
        super().__init__(("127.0.0.1", port), _RelayHandler)


class ProxyBridge:
    """The running relay; :meth:`close` stops it (the process exit does too)."""

    def __init__(self, port: int, socket_path: str) -> None:
        self._server = _RelayServer(port, socket_path)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="v6-proxy-relay", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


#: The relays of ``V6_RELAYS``, kept for the life of the process.
_relays: list[ProxyBridge] = []


def relay_pairs(value: str) -> list[tuple[int, str]]:
    """``V6_RELAYS``'s ``PORT=SOCKET_PATH`` pairs; ValueError names a malformed one."""
    pairs = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        port, sep, path = item.partition("=")
        if not sep or not port.strip().isdigit() or not path.strip():
            raise ValueError(f"{ENV_RELAYS}: {item!r} is not PORT=SOCKET_PATH")
        pairs.append((int(port), path.strip()))
    return pairs


def start_relays(environ: Mapping[str, str] | None = None) -> list[ProxyBridge]:
    """Start one relay per ``V6_RELAYS`` pair (none when it is unset).

    Raises:
        OSError: a loopback port cannot be bound.
        ValueError: ``V6_RELAYS`` is malformed.
    """
    env = os.environ if environ is None else environ
    started = [ProxyBridge(port, path) for port, path in relay_pairs(env.get(ENV_RELAYS, ""))]
    _relays.extend(started)
    return started


def start_from_environ(environ: Mapping[str, str] | None = None) -> ProxyBridge | None:
    """Start the relays the container contract names: the run's ``V6_RELAYS`` and the
    proxy relay (returned; None when no proxy socket is named).

    Raises:
        OSError: a loopback port cannot be bound (the run then fails with that reason).
        ValueError: ``V6_RELAYS`` is malformed.
    """
    env = os.environ if environ is None else environ
    start_relays(env)
    socket_path = env.get(ENV_SOCKET)
    if not socket_path:
        return None
    return ProxyBridge(int(env.get("PORT") or 0), socket_path)
