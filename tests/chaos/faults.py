"""The faults the chaos suite injects; each waits until the part is back (or fails)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.chaos.database import PostgresCluster
from tests.chaos.server_process import ServerProcess
from tests.integration.conftest import CliNode, wait_until
from tests.processes import wait_gone
from tests.small_disk import fill_disk

__all__ = ["RESTART_WITHIN", "Faults"]

RESTART_WITHIN = 15.0
"""Seconds a server started right after its master was killed may take to serve."""


@dataclass
class Faults:
    """Injects faults into one server (and its database) and its nodes, counting them."""

    server: ServerProcess
    nodes: list[CliNode]
    cluster: PostgresCluster | None = None
    injected: Counter[str] = field(default_factory=Counter)

    def kill_node(self, index: int, down_for: float = 1.0) -> None:
        """SIGKILL a node daemon (its algorithms run on) and start it again."""
        self.nodes[index].kill()
        self.injected["node SIGKILL"] += 1
        time.sleep(down_for)
        self.nodes[index].start()

    def kill_worker(self) -> None:
        """SIGKILL one gunicorn worker; the master must replace it."""
        victim = self.server.kill_worker()
        self.injected["server worker SIGKILL"] += 1
        wait_until(lambda: victim not in (pids := self.server.worker_pids())
                   and len(pids) == self.server.workers, 30, "the master to replace a worker")

    def kill_master(self) -> None:
        """SIGKILL the gunicorn master and start the server again at once."""
        orphans = self.server.kill_master()
        self.injected["server master SIGKILL"] += 1
        started = time.monotonic()
        self.server.start(timeout=RESTART_WITHIN)
        took = time.monotonic() - started
        assert wait_gone(orphans, 5) == [], f"orphaned workers {orphans} kept running"
        assert took < RESTART_WITHIN, f"the server served again only after {took:.1f} s"

    def fill_disk(self, index: int, full_for: float = 4.0) -> None:
        """Fill the (size-limited) folder of a node's ``task_dir``, keep it full, free it."""
        filler = fill_disk(Path(self.nodes[index].config["task_dir"]), name="chaos-filler")
        self.injected["node disk full"] += 1
        time.sleep(full_for)
        filler.unlink()

    def restart_database(self, down_for: float = 3.0) -> None:
        """Stop PostgreSQL (cutting every connection), keep it down, start it again."""
        assert self.cluster is not None
        self.cluster.restart(down_for)
        self.injected["PostgreSQL restart"] += 1
