"""``v6 server start`` (gunicorn master and workers) as real processes a test can kill."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.integration.conftest import JWT_SECRET, ROOT_PASSWORD, V6, free_port
from tests.processes import children, wait_gone
from v6lib.client import Client

__all__ = ["ServerProcess"]


class ServerProcess:
    """The server under gunicorn with ``workers`` workers; duck-types ``LiveServer``."""

    def __init__(self, home: Path, uri: str, env: dict[str, str], *, workers: int = 2,
                 name: str = "chaos", settings: dict[str, Any] | None = None) -> None:
        """``settings`` are added to the configuration file; a ``None`` value removes
        a default (``jwt_secret_key``, to use a key file instead)."""
        self.home = home
        self.name = name
        self.port = free_port()
        self.workers = workers
        self.env = {**env, "XDG_CONFIG_HOME": str(home / "config"),
                    "XDG_DATA_HOME": str(home / "data")}
        self.data_dir = home / "data" / "v6lib" / "server" / name
        config = home / "config" / "v6lib" / "server" / f"{name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        # NOTE: eight researcher threads long-poll as one caller, each node as another
        values: dict[str, Any] = {
            "name": name, "port": self.port, "uri": uri, "root_password": ROOT_PASSWORD,
            "jwt_secret_key": JWT_SECRET, "threads": 12, "max_long_polls_per_caller": 8,
            **(settings or {})}
        config.write_text(yaml.safe_dump({k: v for k, v in values.items() if v is not None}))
        self.log_file = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 60) -> ServerProcess:
        with open(self.log_file, "ab") as log:
            log.write(f"--- {self.name}: starting the server at {time.strftime('%X')}\n"
                      .encode())
            log.flush()
            self.process = subprocess.Popen(
                [*V6, "server", "start", self.name, "--attach", "--workers",
                 str(self.workers)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (self.healthy() and len(self.worker_pids()) == self.workers):
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}; "
                                     f"see {self.log_file}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not serve within {timeout} s")
            time.sleep(0.1)
        return self

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process is not None else []

    def kill_worker(self) -> int:
        """SIGKILL one worker; the master starts another in its place."""
        victim = self.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def kill_master(self) -> list[int]:
        """SIGKILL the master (no clean-up); its orphaned workers, which must go by
        themselves."""
        assert self.process is not None
        orphans = self.worker_pids()
        self.process.kill()
        self.process.wait()
        return orphans

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            workers = self.worker_pids()
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid in wait_gone(workers, 5):
                os.kill(pid, signal.SIGKILL)

    def root(self) -> Client:
        client = Client("http://127.0.0.1", self.port, "/api")
        client.authenticate("root", ROOT_PASSWORD)
        return client
