"""The cage of algorithm containers, and the self-check that proves it before any run.

Why no network at all: a container of an algorithm run gets Docker's ``none`` network,
so it has a loopback interface and nothing else: no route to the internet, to the host,
to other containers or to DNS, whatever the host's firewall says. Its one way out is
the node proxy's Unix socket, bind-mounted into the container (see
:mod:`v6lib.wrappers.proxy_bridge` for how the contract's ``HOST``/``PORT`` still work).
This needs no root and no firewall rules, and starts a container faster than attaching
it to a network.

Trust but verify: before running anything the node starts a throw-away container set up
exactly like a run's, which tries the outside world, every address of the host and DNS,
lists its network interfaces, and must reach the proxy socket. If anything but the
proxy is reachable, or the proxy is not, the node refuses to run algorithms and says
why (SCENARIOS 6).

With network databases or a whitelist the check also proves the node's relays (see
:mod:`v6lib.node.relays`): each database's relay must reach its database while the
database's own address stays unreachable directly, and the allowlisting proxy must
refuse a destination the whitelist does not name.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from v6lib.errors import RuntimeUnavailableError
from v6lib.rules.network_access import network_endpoint

__all__ = [
    "IsolationReport",
    "direct_targets",
    "host_ipv4_addresses",
    "probe_command",
    "read_report",
]

PUBLIC_TARGETS: tuple[tuple[str, int], ...] = (("1.1.1.1", 443), ("8.8.8.8", 53),
                                               ("9.9.9.9", 443))
DNS_NAMES: tuple[str, ...] = ("example.com", "pypi.org")
CLOSED_PORT = 9  # "discard": a refused connection still proves the host was reached
PROXY_KEY = "proxy socket"


# -- isolation self-check ---------------------------------------------------------------
def host_ipv4_addresses() -> list[str]:
    """The host's IPv4 addresses (all interfaces, loopback excluded)."""
    found: list[str] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, ifname in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", ifname[:15].encode()))
            except OSError:
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127.") and address not in found:
                found.append(address)
    finally:
        sock.close()
    return found


# Runs inside the throw-away container with its own Python; prints one JSON line.
_PROBE = r"""
import json, os, socket, sys, threading, time
targets = json.loads(sys.argv[1]); names = json.loads(sys.argv[2]); proxy = sys.argv[3]
relays = json.loads(sys.argv[4]); allowlist = sys.argv[5]
out = {}
def relay(label, path):
    u = socket.socket(socket.AF_UNIX); u.settimeout(1.0)
    try:
        u.connect(path)
        if u.recv(1) == b"":
            out[f"relay {label}"] = "unreachable: the node could not connect to it"
        else:
            out[f"relay {label}"] = "ok"
    except socket.timeout:
        out[f"relay {label}"] = "ok"
    except OSError as exc:
        out[f"relay {label}"] = "unreachable: " + str(exc)
    finally:
        u.close()
def refused(path):
    u = socket.socket(socket.AF_UNIX); u.settimeout(3.0)
    try:
        u.connect(path)
        u.sendall(b"CONNECT forbidden.invalid:443 HTTP/1.1\r\n\r\n")
        answer = u.recv(64).split(b"\r\n")[0].decode("latin-1")
        out["allowlist proxy"] = "refuses" if " 403 " in answer else "reached: " + answer
    except OSError as exc:
        out["allowlist proxy"] = "unreachable: " + str(exc)
    finally:
        u.close()
def tcp(host, port):
    s = socket.socket(); s.settimeout(1.5)
    try:
        s.connect((host, port)); out[f"tcp {host}:{port}"] = "reached (connected)"
    except ConnectionRefusedError:
        out[f"tcp {host}:{port}"] = "reached (refused by a listening host)"
    except OSError as exc:
        out[f"tcp {host}:{port}"] = "blocked: " + (exc.strerror or type(exc).__name__)
    finally:
        s.close()
def dns(name):
    try:
        out[f"dns {name}"] = "reached: " + socket.gethostbyname(name)
    except OSError as exc:
        out[f"dns {name}"] = "blocked: " + str(exc)
jobs = [threading.Thread(target=tcp, args=tuple(t), daemon=True) for t in targets]
jobs += [threading.Thread(target=dns, args=(n,), daemon=True) for n in names]
jobs += [threading.Thread(target=relay, args=tuple(r), daemon=True) for r in relays]
if allowlist:
    jobs.append(threading.Thread(target=refused, args=(allowlist,), daemon=True))
for j in jobs: j.start()
for name in sorted(os.listdir("/sys/class/net")):
    if name != "lo":
        out[f"interface {name}"] = "reached: a network interface other than loopback"
u = socket.socket(socket.AF_UNIX)
try:
    u.connect(proxy); out["proxy socket"] = "ok"
except OSError as exc:
    out["proxy socket"] = "unreachable: " + str(exc)
finally:
    u.close()
end = time.monotonic() + 3
for j in jobs: j.join(max(0.0, end - time.monotonic()))
for t in targets: out.setdefault(f"tcp {t[0]}:{t[1]}", "blocked: no answer")
for n in names: out.setdefault(f"dns {n}", "blocked: no answer")
print("V6-ISOLATION " + json.dumps(out))
"""


def probe_command(proxy_socket: str,
                  extra_targets: Iterable[tuple[str, int]] = (),
                  relays: Iterable[tuple[str, str]] = (),
                  allowlist_socket: str = "") -> list[str]:
    """The self-check container's command: outside and host targets, DNS, the proxy socket,
    the run relays (``(label, socket path)``) and the allowlisting proxy's socket.

    Socket paths are paths *inside* the container; ``extra_targets`` are addresses that
    must stay unreachable directly (the network databases' own).
    """
    targets = [*PUBLIC_TARGETS, ("172.17.0.1", CLOSED_PORT)]  # docker0's usual gateway
    targets += [(ip, CLOSED_PORT) for ip in host_ipv4_addresses()
                if (ip, CLOSED_PORT) not in targets]
    targets += list(extra_targets)
    return ["python3", "-c", _PROBE, json.dumps(targets), json.dumps(list(DNS_NAMES)),
            proxy_socket, json.dumps([list(r) for r in relays]), allowlist_socket]


def direct_targets(databases: Iterable[Any]) -> list[tuple[str, int]]:
    """The network databases' own addresses, which a run must not reach directly (a
    loopback address is the container's own there, so it proves nothing and is left
    out; a host name cannot even be resolved without DNS)."""
    found = []
    for db in databases:
        endpoint = network_endpoint(db.uri)
        if endpoint is None:
            continue
        try:
            if ipaddress.ip_address(endpoint.host).is_loopback:
                continue
        except ValueError:
            continue
        found.append((endpoint.host, endpoint.port))
    return found


@dataclass(frozen=True)
class IsolationReport:
    """What the self-check container could reach."""

    results: dict[str, str]

    @property
    def leaks(self) -> list[str]:
        return sorted(k for k, v in self.results.items() if v.startswith("reached"))

    def raise_if_unsafe(self) -> None:
        """Refuse when anything but the proxy is reachable, or the proxy is not."""
        if self.leaks:
            detail = "; ".join(f"{k}: {self.results[k]}" for k in self.leaks)
            raise RuntimeUnavailableError(
                f"isolation check failed: a run's container reached {detail}. Algorithms "
                "will not run until only the node's proxy is reachable (see "
                "docs/operations/docker.md)",
                details={"reached": self.leaks},
            )
        broken = sorted(k for k, v in self.results.items()
                        if (k.startswith("relay ") and v != "ok")
                        or (k == "allowlist proxy" and v != "refuses"))
        if broken:
            detail = "; ".join(f"{k}: {self.results[k]}" for k in broken)
            raise RuntimeUnavailableError(
                f"isolation check failed: {detail}. Algorithms will not run until every "
                "network database is reachable through its relay and the whitelist is "
                "enforced (see docs/node-operator.md)", details={"broken": broken})
        proxy = self.results.get(PROXY_KEY, "not tried")
        if proxy != "ok":
            raise RuntimeUnavailableError(
                f"isolation check failed: a run's container cannot reach the node proxy's "
                f"socket ({proxy}); algorithms could not create subtasks or read results. "
                "Check that the node's task directory is on a file system Docker can "
                "bind-mount (see docs/operations/docker.md)"
            )


def read_report(output: str) -> IsolationReport:
    """Parse the probe's output; an unreadable answer is itself a failed check."""
    for line in output.splitlines():
        if line.startswith("V6-ISOLATION "):
            return IsolationReport(json.loads(line[len("V6-ISOLATION "):]))
    raise RuntimeUnavailableError(
        "isolation check failed: the check container gave no answer "
        f"(output: {output[-500:]!r}); it needs python3 in the check image"
    )
