"""The allowlisting HTTP proxy with real sockets, as a hostile run would use it: what it
lets through, what it refuses, malformed and endless request heads."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.network_services import ask, local_web
from v6lib.node.relays import open_relays
from v6lib.node.runtime.base import JobDatabase
from v6lib.rules.network_access import Allowlist

__all__ = ["local_web"]  # the fixture, re-exported for pytest


def proxy_port(environment: dict[str, str]) -> int:
    return int(environment["HTTP_PROXY"].rsplit(":", 1)[1])


def test_allowlist_proxy_lets_through_only_what_is_allowed(local_web: tuple[str, int],
                                                           tmp_path: Path) -> None:
    host, port = local_web
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


def test_https_database_is_reached_through_the_proxy_with_its_own_host_name(
        local_web: tuple[str, int], tmp_path: Path) -> None:
    host, port = local_web
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



def test_a_request_head_that_never_ends_is_dropped(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import v6lib.node.allowlist_proxy as proxy_module

    monkeypatch.setattr(proxy_module, "HEAD_TIMEOUT", 0.5)
    relays = open_relays(6, [], Allowlist.of(domains=["example.org"]),
                         directory=tmp_path / "r6")
    try:
        with socket.create_connection(("127.0.0.1", proxy_port(relays.environment)),
                                      timeout=5) as conn:
            conn.sendall(b"CONNECT example.org:443 HTTP/1.1\r\n")  # and nothing more
            assert conn.recv(100).startswith(b"HTTP/1.1 400 Bad Request")
    finally:
        relays.close()
