"""The node's per-run relays: a run's only way to its network databases and allowlist.

Why relays and not a network: an algorithm container has no network interface (see
:mod:`v6lib.node.runtime.docker_isolation`), so it cannot open a connection of its own,
however hostile. For each network database the task *requested*, the node opens one
relay that connects to that database's host and port and nothing else; with a
``whitelist`` or ``docker_services`` it also opens an HTTP proxy that lets through only
what :class:`~v6lib.rules.network_access.Allowlist` allows. The relays exist from the
run's start until the run is removed, and only that run's container gets them mounted:
a run that did not request a database has no relay to it.

Docker runtime: each relay is a Unix socket in a per-run directory mounted into that
run's container; the wrapper's :mod:`~v6lib.wrappers.proxy_bridge` listens on the
container's loopback ports of ``V6_RELAYS`` and forwards to the sockets. Process
runtime: each relay listens on a free port of the host's loopback interface (such a
process has the host's network anyway; see docs/node-operator.md).

Credentials: a PostgreSQL password stays out of the URI the run sees; the node writes it
to a ``PGPASSFILE`` for this run only, which libpq-based drivers (psycopg, psycopg2)
read. Other drivers get the URI with its password.
"""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from v6lib.node.allowlist_proxy import forward, serve_http_proxy
from v6lib.node.runtime.base import JobDatabase
from v6lib.node.unix_sockets import listen_unix
from v6lib.rules.network_access import (
    Allowlist,
    Endpoint,
    network_endpoint,
    relayed_uri,
    uri_password,
    uri_scheme,
    uri_user,
)
from v6lib.wrappers.proxy_bridge import ENV_RELAYS

__all__ = ["FIRST_CONTAINER_PORT", "MAX_CONNECTIONS", "RunRelays", "open_relays"]


#: Loopback port of the first relay inside a container (then one up per relay).
FIRST_CONTAINER_PORT = 16001
#: Connections one relay serves at a time (a connection pool of a few per database, and
#: a few HTTP requests, fit many times over).
MAX_CONNECTIONS = 64
_PG_SCHEMES = ("postgresql", "postgres")


# -- the relays' servers ------------------------------------------------------------------
class _Handler(socketserver.BaseRequestHandler):
    server: Any

    def handle(self) -> None:
        # NOTE: each connection is a thread of the node: a run may not open unboundedly
        # many; one over the limit is closed at once
        if not self.server.slots.acquire(blocking=False):
            return
        try:
            self.server.serve_one(self.request)
        finally:
            self.server.slots.release()


class _UnixRelay(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    serve_one: Callable[[socket.socket], None]


class _TcpRelay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    serve_one: Callable[[socket.socket], None]


# -- the relays of one run --------------------------------------------------------------
@dataclass
class RunRelays:
    """The relays opened for one run; :meth:`close` ends them (and their connections'
    listeners; connections in flight end with the run's container or process)."""

    databases: list[JobDatabase]
    #: Variables for the run's environment (``V6_RELAYS``, ``PGPASSFILE``, proxy vars).
    environment: dict[str, str]
    directory: Path
    servers: list[Any] = field(default_factory=list)
    #: Docker: each relay's socket as the run sees it, by ``db:<label>`` or
    #: ``allowlist``.
    sockets: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        # NOTE: shutdown() waits for its server's next poll (up to half a second): all at
        # once, so a run's relays cost that once, not once each
        stops = [threading.Thread(target=server.shutdown) for server in self.servers]
        for stop in stops:
            stop.start()
        for stop in stops:
            stop.join()
        for server in self.servers:
            server.server_close()
        self.servers.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


def _start(server: Any, serve_one: Callable[[socket.socket], None], name: str) -> Any:
    server.serve_one = serve_one
    server.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def _pgpass(user: str, port: int, password: str) -> str:
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(":", "\\:")

    return f"127.0.0.1:{port}:*:{esc(user)}:{esc(password)}\n"


def open_relays(
    run_id: int,
    databases: Sequence[JobDatabase],
    allowlist: Allowlist,
    *,
    directory: Path,
    container_dir: str | None = None,
    services: Mapping[str, str] | None = None,
    owner: tuple[int, int] | None = None,
) -> RunRelays:
    """Open the relays of one run.

    Args:
        databases: the run's requested databases; a network one gets a relay and its URI
            rewritten (an ``https://`` one is reached through the allowlisting proxy
            instead, its URI unchanged, so TLS still checks the real host name); a file
            one is passed on unchanged.
        allowlist: whitelist, services and routes; when not empty (or with an https
            database), an allowlisting HTTP proxy.
        directory: the run's own directory for its sockets and pgpass file.
        container_dir: Docker: where ``directory`` is mounted in the run's container;
            the relays are Unix sockets there. None (process runtime): the relays listen
            on free ports of the host's loopback interface.
        services: ``docker_services`` names and the addresses they resolve to, for
            database URIs naming a service.
        owner: uid/gid the sockets and pgpass file are handed to (the container user).
    """
    shutil.rmtree(directory, ignore_errors=True)
    if allowlist.empty and not any(network_endpoint(db.uri) for db in databases
                                   if not db.is_file):
        return RunRelays(databases=list(databases), environment={}, directory=directory)
    directory.mkdir(parents=True)
    os.chmod(directory, 0o711)
    if owner is not None:
        os.chown(directory, *owner)
    opener = _Opener(run_id, RunRelays(databases=[], environment={}, directory=directory),
                     container_dir, owner)
    try:
        opener.open(databases, allowlist, {k.lower(): v for k, v in (services or {}).items()})
    except BaseException:
        opener.relays.close()
        raise
    return opener.relays


@dataclass
class _Opener:
    """Builds one run's :class:`RunRelays`."""

    run_id: int
    relays: RunRelays
    container_dir: str | None
    owner: tuple[int, int] | None
    pairs: list[str] = field(default_factory=list)
    pgpass: list[str] = field(default_factory=list)

    def listen(self, name: str, serve_one: Callable[[socket.socket], None]) -> int:
        """Start a relay; its port as the run sees it."""
        relays, index = self.relays, len(self.relays.servers)
        if self.container_dir is None:
            server: Any = _TcpRelay(("127.0.0.1", 0), _Handler)
            relays.servers.append(_start(server, serve_one, f"v6-relay-{self.run_id}"))
            return int(server.server_address[1])
        path = relays.directory / f"{index}.sock"
        relays.servers.append(_start(listen_unix(path, _UnixRelay, _Handler), serve_one,
                                     f"v6-relay-{self.run_id}"))
        if self.owner is not None:
            os.chown(path, *self.owner, follow_symlinks=False)
        relays.sockets[name] = f"{self.container_dir}/{path.name}"
        port = FIRST_CONTAINER_PORT + index
        self.pairs.append(f"{port}={relays.sockets[name]}")
        return port

    def open(self, databases: Sequence[JobDatabase], allowlist: Allowlist,
             services: Mapping[str, str]) -> None:
        https_routes: dict[Endpoint, Endpoint] = {}
        for db in databases:
            endpoint = None if db.is_file else network_endpoint(db.uri)
            if endpoint is None:
                self.relays.databases.append(db)
                continue
            named = Endpoint(endpoint.host.lower(), endpoint.port)
            target = allowlist.routes.get(named) \
                or Endpoint(services.get(named.host, endpoint.host), endpoint.port)
            if uri_scheme(db.uri) == "https":
                # NOTE: TLS checks the URI's host name, which a relay's 127.0.0.1 would
                # break: the run reaches it through the allowlisting proxy instead
                https_routes[named] = target
                self.relays.databases.append(db)
            else:
                self.relays.databases.append(self.database(db, target))
        if https_routes:
            allowlist = replace(allowlist, routes={**allowlist.routes, **https_routes})
        environment = self.relays.environment
        if not allowlist.empty:
            port = self.listen("allowlist", lambda c: serve_http_proxy(c, allowlist))
            proxy = f"http://127.0.0.1:{port}"
            environment.update({
                "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy,
                "https_proxy": proxy, "NO_PROXY": "localhost,127.0.0.1",
                "no_proxy": "localhost,127.0.0.1"})
        if self.pairs:
            environment[ENV_RELAYS] = ",".join(self.pairs)
        if self.pgpass:
            environment["PGPASSFILE"] = _write_pgpass(
                self.pgpass, self.relays.directory, self.container_dir, self.owner)

    def database(self, db: JobDatabase, target: Endpoint) -> JobDatabase:
        """A relay to ``target`` for ``db``; ``db`` as the run sees it."""
        port = self.listen(f"db:{db.label}", lambda c: forward(c, target))
        password = uri_password(db.uri)
        # NOTE: libpq reads a PostgreSQL password from PGPASSFILE; other drivers have no
        # such file and need it in the URI
        in_file = password is not None and uri_scheme(db.uri) in _PG_SCHEMES
        if in_file and password is not None:
            self.pgpass.append(_pgpass(uri_user(db.uri), port, password))
        return replace(db, uri=relayed_uri(db.uri, "127.0.0.1", port,
                                           keep_password=not in_file))


def _write_pgpass(lines: list[str], directory: Path, container_dir: str | None,
                  owner: tuple[int, int] | None) -> str:
    """The run's pgpass file (owner-only, as libpq demands); its path as the run sees it."""
    path = directory / "pgpass"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(lines)
    if owner is not None:
        os.chown(path, *owner)
    return f"{container_dir}/pgpass" if container_dir else str(path)
