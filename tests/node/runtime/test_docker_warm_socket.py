"""How the node connects to a warm container's starter: never through a link the
container left in its socket folder (unit tests, no engine)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from v6lib.errors import RuntimeUnavailableError
from v6lib.node.runtime.docker_warm import _connect_socket


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def _listen(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    return server


def test_connects_to_the_socket_itself(tmp_path: Path, folder: int) -> None:
    assert _connect_socket(folder, "starter.sock") is None  # not listening yet
    with _listen(tmp_path / "starter.sock") as server:
        sock = _connect_socket(folder, "starter.sock")
        assert sock is not None
        with sock, server.accept()[0] as peer:
            sock.sendall(b"hi")
            assert peer.recv(2) == b"hi"


def test_a_link_to_another_socket_is_refused(tmp_path: Path, folder: int) -> None:
    # the container replaced its socket by a link to one of the host's (the engine's)
    elsewhere = tmp_path / "host"
    elsewhere.mkdir()
    with _listen(elsewhere / "engine.sock"):
        (tmp_path / "starter.sock").symlink_to(elsewhere / "engine.sock")
        with pytest.raises(RuntimeUnavailableError, match="non-socket"):
            _connect_socket(folder, "starter.sock")


def test_a_plain_file_is_refused(tmp_path: Path, folder: int) -> None:
    (tmp_path / "starter.sock").write_text("")
    with pytest.raises(RuntimeUnavailableError, match="non-socket"):
        _connect_socket(folder, "starter.sock")
