"""Which network destinations a run may reach, and how its database URIs are rewritten.

Why one module: the node's configuration check, its relays (Docker and process
runtimes) and the isolation self-check must agree on what a destination is, which
port a URI means and what vantage6's ``whitelist`` allows; a second copy of any of these
would let one of them open what another refuses. Pure functions, no I/O.

A run never reaches a destination itself. For each network database the task requested,
the node opens a relay to that database's host and port only, and the run gets the
database's URI with its host and port replaced by the relay's local end (user, database
name and query kept, the password taken out: see :func:`relayed_uri`). The ``whitelist``
is enforced by the node's allowlisting HTTP proxy (:class:`Allowlist`), the same meaning
as vantage6's squid proxy: a domain (and its subdomains) or an IP address (or network),
on port 80, 443 or one of ``ports``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_PORTS",
    "Allowlist",
    "Endpoint",
    "network_endpoint",
    "relayed_uri",
    "uri_password",
    "uri_scheme",
    "uri_user",
]

#: The port a URI of each scheme means when it names none (drivers' own defaults).
DEFAULT_PORTS: Mapping[str, int] = {
    "postgresql": 5432, "postgres": 5432, "mysql": 3306, "mariadb": 3306,
    "mssql": 1433, "oracle": 1521, "http": 80, "https": 443,
}
#: What vantage6's squid proxy lets through when ``whitelist.ports`` names nothing more.
WEB_PORTS = frozenset({80, 443})


@dataclass(frozen=True)
class Endpoint:
    """A TCP destination the node connects to on a run's behalf."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _split(uri: str) -> SplitResult | None:
    if "://" not in uri:
        return None  # a file on the node's disk
    parts = urlsplit(uri)
    return parts if parts.hostname else None


def network_endpoint(uri: str) -> Endpoint | None:
    """The host and port a database URI connects to; None for files and socket paths.

    Raises:
        ValueError: the URI names a host but its port is unknown or invalid.
    """
    parts = _split(uri)
    if parts is None:
        return None
    scheme = parts.scheme.lower().split("+", 1)[0]
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"the port in {_safe(uri)!r} is not a valid port") from None
    if port is None:
        port = DEFAULT_PORTS.get(scheme)
    if port is None:
        raise ValueError(f"{_safe(uri)!r} names no port and scheme {parts.scheme!r} has no "
                         "known default; write host:port")
    return Endpoint(str(parts.hostname), port)


def uri_scheme(uri: str) -> str:
    """The URI's scheme without its driver (``postgresql+psycopg`` -> ``postgresql``)."""
    return uri.split("://", 1)[0].lower().split("+", 1)[0] if "://" in uri else ""


def uri_user(uri: str) -> str:
    """The user name written in a URI (percent-decoded), or ``""``."""
    parts = _split(uri)
    return "" if parts is None or parts.username is None else unquote(parts.username)


def uri_password(uri: str) -> str | None:
    """The password written in a URI (percent-decoded), or None."""
    parts = _split(uri)
    return None if parts is None or parts.password is None else unquote(parts.password)


def relayed_uri(uri: str, host: str, port: int, *, keep_password: bool = False) -> str:
    """``uri`` pointing at ``host:port`` (the relay's local end), without its password
    unless ``keep_password``.

    User, database (path), query and fragment are kept, so an ordinary driver connects
    through the relay as it would connect directly.
    """
    parts = _split(uri)
    if parts is None:
        raise ValueError("not a network URI")
    user = quote(unquote(parts.username), safe="") if parts.username else ""
    if keep_password and parts.password is not None:
        user += f":{parts.password}"
    user += "@" if user else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}:{port}"))


def _safe(uri: str) -> str:
    """The URI for messages: its password replaced."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return uri.replace(f":{parts.password}@", ":***@", 1)


@dataclass(frozen=True)
class Allowlist:
    """vantage6's ``whitelist`` plus the node's ``docker_services`` and ``ssh_tunnels``.

    ``services`` maps a name an algorithm uses (the ``docker_services`` key) to the
    address the node reaches it at; such a name is reachable on any port, as a container
    linked to vantage6's algorithm network is.
    """

    domains: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    ports: frozenset[int] = frozenset()
    services: Mapping[str, str] = field(default_factory=dict)
    #: Exact destinations -> where the node connects for them: ``ssh_tunnels``
    #: (``hostname:bind port`` -> the tunnel's local end) and a run's https databases.
    routes: Mapping[Endpoint, Endpoint] = field(default_factory=dict)

    @classmethod
    def of(cls, domains: Iterable[str] = (), ips: Iterable[str] = (),
           ports: Iterable[int] = (), services: Mapping[str, str] | None = None
           ) -> Allowlist:
        """Normalized and checked (an invalid IP or network raises ValueError)."""
        for ip in ips:
            ipaddress.ip_network(ip, strict=False)
        return cls(tuple(d.strip().lower().lstrip(".") for d in domains if d.strip()),
                   tuple(ips), frozenset(int(p) for p in ports),
                   {k.lower(): v for k, v in (services or {}).items()})

    @property
    def empty(self) -> bool:
        return not (self.domains or self.ips or self.services or self.routes)

    def target(self, host: str, port: int) -> Endpoint | None:
        """Where to connect for a run asking for ``host:port``; None when not allowed."""
        name = host.strip().lower().rstrip(".")
        if Endpoint(name, port) in self.routes:
            return self.routes[Endpoint(name, port)]
        if name in self.services:
            return Endpoint(self.services[name], port)
        if port not in WEB_PORTS and port not in self.ports:
            return None
        if any(name == d or name.endswith("." + d) for d in self.domains):
            return Endpoint(name, port)
        try:
            address = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return None
        if any(address in ipaddress.ip_network(ip, strict=False) for ip in self.ips):
            return Endpoint(str(address), port)
        return None
