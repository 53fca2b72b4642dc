"""The node's relays with real sockets: the allowlisting HTTP proxy and the per-run
database relays (their environment, their end with the run)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_support import http_server
from v6lib.node.relays import FIRST_CONTAINER_PORT, open_relays
from v6lib.node.runtime.base import JobDatabase
from v6lib.rules.network_access import Allowlist


@pytest.fixture
def web() -> Iterator[tuple[str, int]]:
    with http_server("127.0.0.1") as address:
        yield address


def ask(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def proxy_port(environment: dict[str, str]) -> int:
    return int(environment["HTTP_PROXY"].rsplit(":", 1)[1])


def test_allowlist_proxy_lets_through_only_what_is_allowed(web: tuple[str, int],
                                                           tmp_path: Path) -> None:
    host, port = web
    relays = open_relays(1, [], Allowlist.of(ips=["127.0.0.1"], ports=[port]),
                         directory=tmp_path / "r1")
    try:
        proxy = proxy_port(relays.environment)
        ok = ask(proxy, f"GET http://{host}:{port}/x HTTP/1.0\r\n\r\n".encode())
        assert ok.startswith(b"HTTP/1.0 200") and ok.endswith(b"hello from the host")
        tunnel = ask(proxy, f"CONNECT {host}:{port} HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n"
                     .encode())
        assert tunnel.startswith(b"HTTP/1.1 200 Connection established")
        assert tunnel.endswith(b"hello from the host")
        for refused in (f"CONNECT {host}:{port + 1} HTTP/1.1", "CONNECT example.com:443 "
                        "HTTP/1.1", f"GET http://localhost:{port}/ HTTP/1.1"):
            answer = ask(proxy, refused.encode() + b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 403 Forbidden"), refused
        for bad in (b"GET /relative HTTP/1.1\r\n\r\n", b"nonsense\r\n\r\n",
                    b"CONNECT h:notaport HTTP/1.1\r\n\r\n", b"x" * 20000):
            assert ask(proxy, bad).startswith(b"HTTP/1.1 400 Bad Request"), bad[:20]
    finally:
        relays.close()
    with pytest.raises(ConnectionRefusedError):
        ask(proxy, b"CONNECT x:1 HTTP/1.1\r\n\r\n")


def test_database_relay_reaches_its_database_only(web: tuple[str, int],
                                                  tmp_path: Path) -> None:
    host, port = web
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


def test_https_database_is_reached_through_the_proxy_with_its_own_host_name(
        web: tuple[str, int], tmp_path: Path) -> None:
    host, port = web
    db = JobDatabase("kg", f"https://{host}:{port}/sparql", "sparql", "SELECT *")
    relays = open_relays(4, [db], Allowlist(), directory=tmp_path / "r4")
    try:
        assert relays.databases == [db]  # unchanged: TLS checks the real host name
        proxy = proxy_port(relays.environment)
        tunnel = ask(proxy, f"CONNECT {host}:{port} HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n"
                     .encode())
        assert tunnel.startswith(b"HTTP/1.1 200") and tunnel.endswith(b"hello from the host")
        refused = ask(proxy, f"CONNECT {host}:{port + 1} HTTP/1.1\r\n\r\n".encode())
        assert refused.startswith(b"HTTP/1.1 403")
    finally:
        relays.close()
