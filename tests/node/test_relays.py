"""The node's per-run relays with real sockets: database relays, their environment,
their end with the run, their limit on connections."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.network_services import ask, local_web
from v6lib.node.relays import FIRST_CONTAINER_PORT, open_relays
from v6lib.node.runtime.base import JobDatabase
from v6lib.rules.network_access import Allowlist

__all__ = ["local_web"]  # the fixture, re-exported for pytest


def test_database_relay_reaches_its_database_only(local_web: tuple[str, int],
                                                  tmp_path: Path) -> None:
    host, port = local_web
    db = JobDatabase("kg", f"http://{host}:{port}/sparql", "sparql", "SELECT *")
    relays = open_relays(2, [db, JobDatabase("f", "/data/f.csv", "csv")], Allowlist(),
                         directory=tmp_path / "r2")
    try:
        relayed, file_db = relays.databases
        assert file_db.uri == "/data/f.csv"
        assert "HTTP_PROXY" not in relays.environment  # no whitelist: no proxy at all
        local = int(relayed.uri.split("127.0.0.1:", 1)[1].split("/", 1)[0])
        assert local != port and relayed.uri.endswith("/sparql")
        answer = ask(local, b"GET /anything HTTP/1.0\r\n\r\n")
        assert answer.endswith(b"hello from the host")
    finally:
        relays.close()


def test_docker_relays_are_sockets_named_in_v6_relays(tmp_path: Path) -> None:
    dbs = [JobDatabase("a", "postgresql://u:pw@db1.example:5432/a", "sql"),
           JobDatabase("b", "mysql://u:pw@db2.example/b", "sql")]
    relays = open_relays(3, dbs, Allowlist.of(domains=["example.org"]),
                         directory=tmp_path / "r3", container_dir="/mnt/relays")
    try:
        first, second = FIRST_CONTAINER_PORT, FIRST_CONTAINER_PORT + 1
        assert relays.environment["V6_RELAYS"] == (
            f"{first}=/mnt/relays/0.sock,{second}=/mnt/relays/1.sock,"
            f"{second + 1}=/mnt/relays/2.sock")
        assert relays.environment["HTTP_PROXY"] == f"http://127.0.0.1:{second + 1}"
        assert relays.environment["PGPASSFILE"] == "/mnt/relays/pgpass"
        assert [d.uri for d in relays.databases] == [
            f"postgresql://u@127.0.0.1:{first}/a",
            f"mysql://u:pw@127.0.0.1:{second}/b"]  # no pgpass for MySQL drivers
        assert sorted(p.name for p in (tmp_path / "r3").iterdir()) == [
            "0.sock", "1.sock", "2.sock", "pgpass"]
    finally:
        relays.close()
    assert not (tmp_path / "r3").exists()


def test_a_run_cannot_hold_more_than_the_limit_of_connections(
        local_web: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import v6lib.node.relays as relays_module

    monkeypatch.setattr(relays_module, "MAX_CONNECTIONS", 2)
    host, port = local_web
    relays = open_relays(5, [JobDatabase("kg", f"http://{host}:{port}/", "sparql")],
                         Allowlist(), directory=tmp_path / "r5")
    local = int(relays.databases[0].uri.split("127.0.0.1:", 1)[1].split("/", 1)[0])
    held = [socket.create_connection(("127.0.0.1", local), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.3)  # both are being served (upstream connected, waiting for a request)
        with socket.create_connection(("127.0.0.1", local), timeout=5) as third:
            assert third.recv(1) == b""  # closed at once: over the limit
    finally:
        for conn in held:
            conn.close()
        relays.close()
