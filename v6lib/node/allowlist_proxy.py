"""What a relay does with one connection: forward it to one destination, or serve it as
the allowlisting HTTP proxy.

Why apart from :mod:`v6lib.node.relays` (which opens and closes a run's relays): this is
the part that reads bytes a hostile run sent. The proxy reads one request head (at most
16 KiB), lets through a ``CONNECT host:port`` or an absolute ``http://`` request only to
what :meth:`~v6lib.rules.network_access.Allowlist.target` allows, and answers anything
else with a 4xx and closes; after that it copies bytes and reads nothing.
"""

from __future__ import annotations

import contextlib
import logging
import socket

from v6lib.rules.network_access import Allowlist, Endpoint
from v6lib.wrappers.proxy_bridge import pump

__all__ = ["CONNECT_TIMEOUT", "HEAD_TIMEOUT", "forward", "serve_http_proxy"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
#: Seconds a run has to send its request head: a run that never finishes one must not
#: hold a node thread forever.
HEAD_TIMEOUT = 30.0
_HEAD_LIMIT = 16 * 1024


def _connect(endpoint: Endpoint) -> socket.socket:
    upstream = socket.create_connection((endpoint.host, endpoint.port), CONNECT_TIMEOUT)
    upstream.settimeout(None)
    return upstream


def forward(client: socket.socket, endpoint: Endpoint, first: bytes = b"") -> None:
    """Copy ``client`` to and from ``endpoint`` (after sending ``first``); a destination
    that cannot be reached closes the client's connection."""
    try:
        upstream = _connect(endpoint)
    except OSError as exc:
        log.warning("relay to %s: cannot connect (%s)", endpoint, exc)
        return  # the client sees the connection closed
    with upstream:
        try:
            if first:
                upstream.sendall(first)
            pump(client, upstream)
        except OSError as exc:
            log.debug("relay to %s ended: %s", endpoint, exc)


def _read_head(client: socket.socket) -> tuple[bytes, bytes] | None:
    """An HTTP request head and what came after it; None when it is too long or cut."""
    data = b""
    client.settimeout(HEAD_TIMEOUT)
    try:
        while b"\r\n\r\n" not in data:
            chunk = client.recv(4096)
            data += chunk
            if not chunk or len(data) > _HEAD_LIMIT:
                return None
    except TimeoutError:
        return None
    finally:
        client.settimeout(None)
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _refuse(client: socket.socket, status: str, why: str) -> None:
    body = (why + "\n").encode()
    with contextlib.suppress(OSError):
        client.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: "
                       f"{len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


def _split_host(authority: str, default_port: int) -> tuple[str, int]:
    host, port = authority, default_port
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = authority[1:end], authority[end + 1:]
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif ":" in authority:
        host, _, text = authority.rpartition(":")
        port = int(text)
    return host, port


def serve_http_proxy(client: socket.socket, allowlist: Allowlist) -> None:
    """One connection to the allowlisting proxy: ``CONNECT host:port`` (HTTPS) or a plain
    HTTP request with an absolute URI, let through only to what ``allowlist`` allows."""
    got = _read_head(client)
    if got is None:
        return _refuse(client, "400 Bad Request", "malformed proxy request")
    head, rest = got
    line, _, headers = head.partition(b"\r\n")
    parts = line.decode("latin-1").split(" ")
    if len(parts) != 3:
        return _refuse(client, "400 Bad Request", "malformed request line")
    method, target, version = parts
    try:
        if method == "CONNECT":
            host, port = _split_host(target, 443)
            path = ""
        elif target.startswith("http://"):
            authority, _, path = target[len("http://"):].partition("/")
            host, port = _split_host(authority, 80)
            path = "/" + path
        else:
            return _refuse(client, "400 Bad Request", "only CONNECT and absolute http:// "
                           "requests are proxied")
    except ValueError:
        return _refuse(client, "400 Bad Request", "invalid port")
    endpoint = allowlist.target(host, port)
    if endpoint is None:
        log.warning("allowlist proxy: refused %s %s:%d", method, host, port)
        return _refuse(client, "403 Forbidden", f"{host}:{port} is not allowed by this "
                       "node's whitelist")
    if method == "CONNECT":
        try:
            upstream = _connect(endpoint)
        except OSError as exc:
            return _refuse(client, "502 Bad Gateway", f"cannot reach {host}:{port}: {exc}")
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            with contextlib.suppress(OSError):
                pump(client, upstream)
        return None
    request = f"{method} {path} {version}\r\n".encode("latin-1") + headers + b"\r\n\r\n"
    return forward(client, endpoint, request + rest)
