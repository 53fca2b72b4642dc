"""The launcher as containers run it: a script that relays ``PORT`` to a Unix socket and
then becomes the image's command (run here as a real subprocess, no Docker needed)."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from v6lib.wrappers import launcher
from v6lib.wrappers.contract import RELAYED_VARIABLE

LAUNCHER = Path(launcher.__file__)

# What the "image's command" does: talk to HOST:PORT, report what it sees, then exit.
CLIENT = r"""
import json, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])), timeout=5)
s.sendall(b"ping"); s.shutdown(socket.SHUT_WR)
answer = b""
while chunk := s.recv(100): answer += chunk
print(json.dumps({"answer": answer.decode(), "pid": os.getpid(), "argv": sys.argv[1:],
                  "proxy_socket": os.environ.get("PROXY_SOCKET"),
                  "relayed": os.environ.get("V6_PROXY_RELAYED"),
                  "kept": os.environ.get("KEPT")}))
"""


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = b""
        while chunk := self.request.recv(100):
            data += chunk
        self.request.sendall(b"proxy saw " + data)


@pytest.fixture
def proxy_socket(tmp_path: Path) -> Iterator[Path]:
    """A Unix socket standing in for the node proxy: it answers what it received."""
    path = tmp_path / "proxy.sock"
    server = socketserver.ThreadingUnixStreamServer(str(path), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-S", str(LAUNCHER), "--", *command],
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True,
                          text=True, timeout=30)


def test_the_command_reaches_the_proxy_on_port_and_keeps_its_pid_and_arguments(
        proxy_socket: Path) -> None:
    import json

    port = _free_port()
    done = _launch(sys.executable, "-c", CLIENT, "a", "b c",
                   env={"PROXY_SOCKET": str(proxy_socket), "PORT": str(port), "KEPT": "yes"})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["answer"] == "proxy saw ping"
    assert seen["argv"] == ["a", "b c"]
    # the contract is unchanged; v6lib's wrapper learns that it must not relay too
    assert seen["proxy_socket"] == str(proxy_socket) and seen["kept"] == "yes"
    assert seen["relayed"] == "1"
    # the relay process ends with the command (outside a container nobody else ends it)
    deadline = time.monotonic() + 5
    while _children_of(seen["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children_of(seen["pid"]) == []


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def test_the_exit_code_is_the_commands() -> None:
    done = _launch(sys.executable, "-c", "raise SystemExit(3)", env={})
    assert done.returncode == 3


def test_a_port_already_taken_fails_before_the_command_runs(proxy_socket: Path,
                                                            tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _launch(sys.executable, "-c", f"open({str(marker)!r}, 'w')",
                       env={"PROXY_SOCKET": str(proxy_socket),
                            "PORT": str(taken.getsockname()[1])})
    assert done.returncode == launcher.EXIT_NO_RELAY
    assert "relay to the node proxy cannot start" in done.stderr
    assert not marker.exists()


def test_an_image_without_a_command_is_named() -> None:
    done = _launch(env={})
    assert done.returncode == launcher.EXIT_USAGE
    assert "no ENTRYPOINT or CMD" in done.stderr


def test_a_missing_command_is_named() -> None:
    done = _launch("/no/such/program", env={})
    assert done.returncode == launcher.EXIT_NOT_FOUND
    assert "cannot run the image's command '/no/such/program'" in done.stderr


def test_the_relayed_flag_is_the_launchers_alone() -> None:
    env = {"PROXY_SOCKET": "/s", "PORT": "1", RELAYED_VARIABLE: "1"}
    assert launcher.command_environment(env, relayed=False) == {"PROXY_SOCKET": "/s",
                                                                 "PORT": "1"}
    assert launcher.command_environment(env, relayed=True) == env
    assert launcher.RELAYED == RELAYED_VARIABLE  # the container cannot import the contract
