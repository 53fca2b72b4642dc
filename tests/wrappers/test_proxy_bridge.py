"""The in-container relay from loopback ``HOST:PORT`` to the node proxy's Unix socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.network_services import free_port
from v6lib.wrappers.proxy_bridge import start_from_environ


class EchoUpstream:
    """A Unix-socket server that answers each connection with what it received, reversed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            received = b""
            while chunk := conn.recv(65536):
                received += chunk  # until the client half-closes
            conn.sendall(received[::-1])


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[EchoUpstream]:
    up = EchoUpstream(tmp_path / "proxy.sock")
    yield up
    up.sock.close()


def exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_no_socket_in_the_environment_means_no_relay() -> None:
    assert start_from_environ({"PORT": "5000"}) is None


def test_relays_both_directions_with_half_close(upstream: EchoUpstream) -> None:
    bridge = start_from_environ({"PROXY_SOCKET": str(upstream.path), "PORT": "0"})
    assert bridge is not None
    try:
        payload = bytes(range(256)) * 8192  # 2 MiB: many chunks each way
        assert exchange(bridge.port, payload) == payload[::-1]
        results: list[bytes] = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            exchange(bridge.port, f"call {i}".encode()))) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(results) == sorted(f"call {i}".encode()[::-1] for i in range(8))
    finally:
        bridge.close()


def test_missing_socket_closes_the_connection_instead_of_hanging(tmp_path: Path) -> None:
    bridge = start_from_environ({"PROXY_SOCKET": str(tmp_path / "absent.sock"), "PORT": "0"})
    assert bridge is not None
    try:
        with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as conn:
            try:
                conn.sendall(b"hello")
                answer = conn.recv(100)
            except OSError:  # closed before or while we sent: also not hanging
                answer = b""
        assert answer == b""
    finally:
        bridge.close()


def test_v6_relays_start_one_relay_per_pair(upstream: EchoUpstream, tmp_path: Path) -> None:
    from v6lib.wrappers import proxy_bridge

    other = EchoUpstream(tmp_path / "db.sock")
    first, second = free_port(), free_port()
    try:
        bridge = start_from_environ({
            "V6_RELAYS": f"{first}={upstream.path}, {second}={other.path}"})
        assert bridge is None  # no proxy socket named: only the run's relays
        assert exchange(first, b"abc") == b"cba"
        assert exchange(second, b"xyz") == b"zyx"
    finally:
        for relay in proxy_bridge._relays:
            relay.close()
        proxy_bridge._relays.clear()
        other.sock.close()


@pytest.mark.parametrize("value", ["5432", "x=/s.sock", "5432=", "=/s.sock"])
def test_malformed_v6_relays_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"V6_RELAYS: .* is not PORT=SOCKET_PATH"):
        start_from_environ({"V6_RELAYS": value})
