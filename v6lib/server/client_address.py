"""Who is really calling: the client address behind trusted reverse proxies.

Why not simply read ``X-Forwarded-For``: anyone can send that header, so believing it
would let an attacker pick any address (and dodge or misdirect login throttling). It is
believed only from peers in ``trusted_proxies``, hop by hop from the right: the first
address that is not a trusted proxy is the client. Without trusted proxies the TCP peer
address is the client, whatever the headers say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["IPNetwork", "client_address", "source_key"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: IPv6 clients are grouped by /64: one host usually holds a whole /64 and could
#: otherwise use a fresh address for every request.
IPV6_SOURCE_PREFIX = 64


def _parse(text: str) -> IPAddress | None:
    """An address from a header entry: ``1.2.3.4``, ``1.2.3.4:80``, ``::1``, ``[::1]:80``."""
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: Sequence[IPNetwork] = ()) -> str:
    """The address of the client: ``peer`` unless ``peer`` is a trusted proxy.

    Args:
        peer: the TCP peer address (WSGI ``REMOTE_ADDR``).
        forwarded_for: the ``X-Forwarded-For`` header (several headers joined by commas).
        trusted: networks of the reverse proxies whose headers are believed.
    """
    current = _parse(peer or "")
    if current is None:
        return (peer or "").strip()[:64]
    if not trusted or not forwarded_for:
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        if not _trusted(current, trusted):
            break
        address = _parse(hop)
        if address is None:  # a trusted proxy passed on garbage: stop at that proxy
            break
        current = address
    return str(current)


def source_key(address: str) -> str:
    """The key under which failed logins from ``address`` are counted.

    An IPv4 address as is; an IPv6 address as its /64 network.
    """
    parsed = _parse(address)
    if parsed is None:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_SOURCE_PREFIX), strict=False))
    return str(parsed)
