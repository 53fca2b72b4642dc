"""The network cage of algorithm containers: internal network, host firewall, self-check.

Why three layers: a Docker ``--internal`` network stops forwarding to the outside world,
but its containers still get a default route to the host, so every service the host
listens on (on any of its addresses) would be reachable. The node therefore also adds
host firewall rules that let a container reach only the node's proxy port on the
network's gateway address, and before running anything it starts a throw-away
container that tries to reach the outside and the host; if any attempt succeeds the
node refuses to run algorithms and says why (SCENARIOS 6).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from v6lib.errors import RuntimeUnavailableError

__all__ = [
    "CHAIN",
    "Firewall",
    "IsolationReport",
    "NodeNetwork",
    "bridge_name",
    "ensure_network",
    "host_ipv4_addresses",
    "probe_command",
    "read_report",
    "remove_network",
]

log = logging.getLogger(__name__)

CHAIN = "V6LIB-ISOLATION"
PUBLIC_TARGETS: tuple[tuple[str, int], ...] = (("1.1.1.1", 443), ("8.8.8.8", 53),
                                               ("9.9.9.9", 443))
DNS_NAMES: tuple[str, ...] = ("example.com", "pypi.org")
CLOSED_PORT = 9  # "discard": a refused connection still proves the host was reached


@dataclass(frozen=True)
class NodeNetwork:
    """The per-node internal network and the names the firewall needs."""

    name: str
    network_id: str
    gateway: str
    subnet: str
    bridge: str


def bridge_name(network_name: str) -> str:
    """A stable Linux interface name (max 15 chars) for the node's bridge."""
    return "v6-" + hashlib.sha256(network_name.encode()).hexdigest()[:10]


def _describe(attrs: dict[str, Any]) -> NodeNetwork:
    configs = (attrs.get("IPAM") or {}).get("Config") or []
    gateway = next((c.get("Gateway") for c in configs if c.get("Gateway")), "")
    subnet = next((c.get("Subnet") for c in configs if c.get("Subnet")), "")
    if not gateway:
        raise RuntimeUnavailableError(
            f"docker network {attrs.get('Name')!r} has no IPv4 gateway address; remove it "
            "(`docker network rm`) so the node can create it again"
        )
    options = attrs.get("Options") or {}
    bridge = options.get("com.docker.network.bridge.name") or f"br-{attrs['Id'][:12]}"
    return NodeNetwork(attrs["Name"], attrs["Id"], gateway, subnet, bridge)


def ensure_network(client: Any, name: str, labels: dict[str, str]) -> NodeNetwork:
    """Find or create the internal network ``name``; refuse one that is not internal."""
    import docker.errors

    try:
        net = client.networks.get(name)
    except docker.errors.NotFound:
        net = None
    if net is not None and net.attrs.get("Name") == name:
        if not net.attrs.get("Internal"):
            raise RuntimeUnavailableError(
                f"docker network {name!r} exists but is not internal, so algorithms on it "
                f"could reach the internet; remove it (`docker network rm {name}`) and "
                "restart the node, which creates it with --internal"
            )
        return _describe(net.attrs)
    try:
        net = client.networks.create(
            name, driver="bridge", internal=True, check_duplicate=True, labels=labels,
            options={
                "com.docker.network.bridge.name": bridge_name(name),
                # Runs of one node cannot talk to each other either.
                "com.docker.network.bridge.enable_icc": "false",
            },
        )
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # created concurrently: use it
            return ensure_network(client, name, labels)
        raise RuntimeUnavailableError(f"cannot create docker network {name!r}: {exc}") from exc
    net.reload()
    return _describe(net.attrs)


def remove_network(client: Any, name: str) -> bool:
    """Remove the node's network unless a container still uses it; True when it is gone."""
    import docker.errors

    try:
        client.networks.get(name).remove()
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError as exc:
        log.warning("docker network %s kept: %s", name, exc)
        return False
    return True


# -- host firewall ----------------------------------------------------------------------
class Firewall:
    """Host ``iptables`` rules: from the node's bridge, only the proxy port is open.

    Needs root (or CAP_NET_ADMIN) and the ``iptables`` command; :meth:`available`
    says whether both are there. All rules live in one chain, :data:`CHAIN`, jumped to
    from INPUT, so they are easy to see and to remove.
    """

    def __init__(self, command: str = "iptables") -> None:
        self.command = command
        # (bridge, port) pairs already opened by this node: checking the rule again per
        # run costs an ``iptables`` process (tens of ms) on the start path.
        self._opened: set[tuple[str, int]] = set()

    def available(self) -> bool:
        return os.geteuid() == 0 and shutil.which(self.command) is not None

    def _run(self, *args: str, check: bool = True) -> bool:
        proc = subprocess.run([self.command, "-w", "10", *args], capture_output=True,
                              text=True, check=False)
        if check and proc.returncode != 0:
            raise RuntimeUnavailableError(
                f"`{self.command} {' '.join(args)}` failed: {proc.stderr.strip()}"
            )
        return proc.returncode == 0

    def _ensure(self, position: str, rule: Sequence[str]) -> None:
        if not self._run("-C", CHAIN, *rule, check=False):
            if position == "top":
                self._run("-I", CHAIN, "1", *rule)
            else:
                self._run("-A", CHAIN, *rule)

    def protect(self, net: NodeNetwork) -> None:
        """Drop everything a container on ``net`` sends to the host (until ports are opened)."""
        if not self._run("-n", "-L", CHAIN, check=False):
            self._run("-N", CHAIN)
        if not self._run("-C", "INPUT", "-j", CHAIN, check=False):
            self._run("-I", "INPUT", "1", "-j", CHAIN)
        self._ensure("bottom", ["-i", net.bridge, "-j", "DROP"])

    def allow_port(self, net: NodeNetwork, port: int) -> None:
        """Open ``gateway:port`` (the node's proxy) to the containers on ``net``."""
        if (net.bridge, int(port)) in self._opened:
            return
        self._ensure("top", ["-i", net.bridge, "-d", f"{net.gateway}/32", "-p", "tcp",
                             "-m", "tcp", "--dport", str(int(port)), "-j", "ACCEPT"])
        self._opened.add((net.bridge, int(port)))

    def release(self, net: NodeNetwork) -> None:
        """Remove every rule of ``net``'s bridge (at node shutdown)."""
        self._opened = {key for key in self._opened if key[0] != net.bridge}
        proc = subprocess.run([self.command, "-w", "10", "-S", CHAIN], capture_output=True,
                              text=True, check=False)
        for line in proc.stdout.splitlines():
            parts = line.split()
            if parts[:2] == ["-A", CHAIN] and f"-i {net.bridge} " in line + " ":
                self._run("-D", *parts[1:], check=False)


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
import json, socket, sys, threading, time
targets = json.loads(sys.argv[1]); names = json.loads(sys.argv[2]); out = {}
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
for j in jobs: j.start()
end = time.monotonic() + 3
for j in jobs: j.join(max(0.0, end - time.monotonic()))
for t in targets: out.setdefault(f"tcp {t[0]}:{t[1]}", "blocked: no answer")
for n in names: out.setdefault(f"dns {n}", "blocked: no answer")
print("V6-ISOLATION " + json.dumps(out))
"""


def probe_command(net: NodeNetwork, extra_targets: Iterable[tuple[str, int]] = ()) -> list[str]:
    """The command of the self-check container: outside and host targets, DNS names."""
    targets = [*PUBLIC_TARGETS, (net.gateway, CLOSED_PORT)]
    targets += [(ip, CLOSED_PORT) for ip in host_ipv4_addresses() if ip != net.gateway]
    targets += list(extra_targets)
    return ["python3", "-c", _PROBE, json.dumps(targets), json.dumps(list(DNS_NAMES))]


@dataclass(frozen=True)
class IsolationReport:
    """What the self-check container could reach."""

    results: dict[str, str]

    @property
    def leaks(self) -> list[str]:
        return sorted(k for k, v in self.results.items() if v.startswith("reached"))

    def raise_if_leaking(self, network: str) -> None:
        if self.leaks:
            detail = "; ".join(f"{k}: {self.results[k]}" for k in self.leaks)
            raise RuntimeUnavailableError(
                f"isolation check failed: a container on docker network {network!r} "
                f"reached {detail}. Algorithms will not run until only the node's proxy "
                "is reachable (run the node as root so it can add its firewall rules, "
                "or see docs/operations/docker.md)",
                details={"reached": self.leaks},
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
