"""Demo child processes: ports, readiness deadlines, and stopping whole process groups."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from v6lib.demo.processes import ManagedProcess, free_port, log_tail, wait_until
from v6lib.errors import ServerUnavailableError


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_stop_kills_the_child_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    process = ManagedProcess("sleeper", [sys.executable, "-c", script], tmp_path / "log.txt")
    process.start()
    wait_until(pid_file.exists, 20, "grandchild", watch=[process])
    grandchild = int(pid_file.read_text() or "0")
    wait_until(lambda: grandchild > 0, 1, "pid")

    process.stop(grace=5)

    assert not process.alive()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the grandchild survived stop()")


def test_wait_until_reports_a_dead_process_with_its_log(tmp_path: Path) -> None:
    process = ManagedProcess("crasher", [sys.executable, "-c",
                                         "print('config is broken'); raise SystemExit(3)"],
                             tmp_path / "crash.log")
    process.start()
    with pytest.raises(ServerUnavailableError, match="config is broken") as info:
        wait_until(lambda: False, 30, "crasher", watch=[process])
    assert "exited with code 3" in str(info.value)


def test_wait_until_deadline_names_what(tmp_path: Path) -> None:
    with pytest.raises(ServerUnavailableError, match=r"the thing not ready after 0\.2 s"):
        wait_until(lambda: False, 0.2, "the thing")


def test_log_tail(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("\n".join(str(i) for i in range(50)))
    assert log_tail(path, 3) == "47\n48\n49"
    assert log_tail(tmp_path / "absent.log") == ""
