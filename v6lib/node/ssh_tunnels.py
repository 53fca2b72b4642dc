"""vantage6's ``ssh_tunnels``: data sources behind an SSH server, reached through the
system's ``ssh`` client.

Why the system client: OpenSSH is on every node host, does host-key checking and key
handling the way operators know, and needs no dependency. The node starts one
``ssh -N -L 127.0.0.1:<free port>:<dest ip>:<dest port>`` per tunnel when it starts,
with the server's host key (vantage6's ``fingerprint``: the ``ssh-rsa AAAA...`` line)
as the only known host and ``BatchMode`` (no prompt can hang it). A run never reaches the
tunnel itself: a database URI (or a whitelisted request) naming the tunnel's
``hostname`` and ``tunnel.bind.port`` is relayed to the tunnel's local end, like any
network database (see :mod:`v6lib.node.relays`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from v6lib.errors import RuntimeUnavailableError
from v6lib.rules.network_access import Endpoint

__all__ = ["SshTunnelSpec", "SshTunnels"]

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0


@dataclass(frozen=True)
class SshTunnelSpec:
    """One ``ssh_tunnels`` entry, as vantage6 writes it (flattened)."""

    hostname: str
    ssh_host: str
    ssh_port: int
    fingerprint: str
    username: str
    key: Path
    bind_port: int
    dest_ip: str
    dest_port: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SshTunnels:
    """The node's tunnels: started by :meth:`start`, ended by :meth:`close`."""

    def __init__(self, specs: Sequence[SshTunnelSpec], ssh: str = "ssh") -> None:
        self.specs = list(specs)
        self.ssh = ssh
        self._processes: list[subprocess.Popen[bytes]] = []
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        #: What runs name (``hostname:bind port``) -> the tunnel's local end.
        self.endpoints: dict[Endpoint, Endpoint] = {}

    def start(self) -> dict[Endpoint, Endpoint]:
        """Open every tunnel (idempotent while they run).

        Raises:
            RuntimeUnavailableError: a tunnel did not come up (its ssh error is named).
        """
        if self.endpoints and all(p.poll() is None for p in self._processes):
            return self.endpoints
        self.close()
        self._dir = tempfile.TemporaryDirectory(prefix="v6-ssh-")
        try:
            for spec in self.specs:
                local = self._open(spec, Path(self._dir.name))
                self.endpoints[Endpoint(spec.hostname.lower(), spec.bind_port)] = local
        except BaseException:
            self.close()
            raise
        return self.endpoints

    def _open(self, spec: SshTunnelSpec, workdir: Path) -> Endpoint:
        known = workdir / f"known_hosts-{spec.hostname}"
        names = f"{spec.ssh_host},[{spec.ssh_host}]:{spec.ssh_port}"
        known.write_text(f"{names} {spec.fingerprint.strip()}\n")
        port = _free_port()
        command = [
            self.ssh, "-N", "-T", "-p", str(spec.ssh_port), "-i", str(spec.key),
            "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "ServerAliveInterval=15", "-o", "ConnectTimeout=10",
            "-F", "/dev/null",
            "-L", f"127.0.0.1:{port}:{spec.dest_ip}:{spec.dest_port}",
            f"{spec.username}@{spec.ssh_host}",
        ]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._processes.append(process)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                lines = (process.stderr.read() if process.stderr else b"").decode(
                    "utf-8", "replace").strip().splitlines()
                raise RuntimeUnavailableError(  # ssh's last line says what went wrong
                    f"ssh_tunnels.{spec.hostname}: ssh to {spec.ssh_host}:{spec.ssh_port} "
                    f"failed: {lines[-1].strip() if lines else f'exit {process.returncode}'}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                log.info("ssh tunnel %s:%d -> %s:%d via %s open", spec.hostname,
                         spec.bind_port, spec.dest_ip, spec.dest_port, spec.ssh_host)
                return Endpoint("127.0.0.1", port)
            time.sleep(0.1)
        raise RuntimeUnavailableError(
            f"ssh_tunnels.{spec.hostname}: the tunnel through {spec.ssh_host} did not open "
            f"within {START_TIMEOUT:.0f} s")

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stderr:
                process.stderr.close()
        self._processes.clear()
        self.endpoints = {}
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
