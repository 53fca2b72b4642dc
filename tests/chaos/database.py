"""The server's database for the chaos suite: a private PostgreSQL cluster, or SQLite.

Why a private cluster: the suite restarts PostgreSQL, and the shared test cluster
(``.ci/postgres.sh``) serves other tests and other checkouts on the same machine at the
same time. A cluster of its own (``initdb`` into a temporary directory, its own port)
can be stopped and started without disturbing anyone. PostgreSQL refuses to run as root,
so as root it runs as the ``postgres`` user, as the system cluster does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.processes import running

__all__ = ["PostgresCluster", "postgres_bin_dir"]


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory (Debian layout), if any."""
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` on 127.0.0.1:``port``; ``restart`` is the injected fault."""

    def __init__(self, bin_dir: Path, port: int) -> None:
        self.bin_dir = bin_dir
        # NOTE: not under pytest's tmp_path: its 0700 parents keep the postgres user out
        self.directory = Path(tempfile.mkdtemp(prefix="v6-chaos-pg-"))
        self.data = self.directory / "data"
        self.port = port
        self.url = f"postgresql+psycopg://chaos@127.0.0.1:{port}/chaos"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              cwd=self.directory)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")

    def create(self) -> PostgresCluster:
        """Initialize, start, and create the database; nothing is left when it fails."""
        try:
            return self._create()
        except BaseException:
            self.destroy()
            raise

    def _create(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "chaos", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.directory}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 100\n")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "chaos", "chaos")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"),
                  "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a database server's restart."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists() and running(int(pid_file.read_text().split()[0])):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
