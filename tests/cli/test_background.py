"""Background processes: pid files, readiness, stopping, following a log (real processes)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from v6lib.cli.background import follow_log, log_tail, spawn, terminate
from v6lib.errors import ServerUnavailableError
from v6lib.pid_files import (
    is_alive,
    read_pid,
    remove_pid_file,
    running_pid,
    write_pid_file,
)

# "v6" in the command line: pid files only count processes of v6lib
SLEEPER = [sys.executable, "-c", "import sys, time; print('up', flush=True); "
           "time.sleep(float(sys.argv[1]))  # v6", "30"]


def test_pid_file_is_private_and_names_its_writer(tmp_path: Path) -> None:
    pid_file = tmp_path / "run" / "x.pid"
    write_pid_file(pid_file, 4242)
    assert read_pid(pid_file) == 4242
    assert stat.S_IMODE(pid_file.stat().st_mode) == 0o600
    remove_pid_file(pid_file, 4243)  # another process's file stays
    assert pid_file.exists()
    remove_pid_file(pid_file, 4242)
    assert not pid_file.exists() and read_pid(pid_file) is None


def test_only_live_v6_processes_count(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); "
                              "time.sleep(30)"], stdout=subprocess.PIPE)
    mine = subprocess.Popen(SLEEPER, stdout=subprocess.PIPE)
    try:
        for proc in (mine, other):  # both have started their own program
            assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        assert is_alive(mine.pid) and not is_alive(other.pid)  # a recycled pid
        pid_file = tmp_path / "p.pid"
        write_pid_file(pid_file, mine.pid)
        assert running_pid(pid_file) == mine.pid
        mine.terminate()
        deadline = time.monotonic() + 10
        while is_alive(mine.pid) and time.monotonic() < deadline:  # a zombie: not alive
            time.sleep(0.05)
        assert running_pid(pid_file) is None
    finally:
        for proc in (mine, other):
            proc.kill()
            proc.communicate()


def test_spawn_waits_for_ready_and_writes_a_private_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "x.log"
    pid = spawn(SLEEPER, log, ready=lambda pid: "up" in log_tail(log), timeout=20)
    try:
        assert is_alive(pid) and log_tail(log) == "up"
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert os.getpgid(pid) == pid  # its own session: detached from this terminal
    finally:
        assert terminate(pid, grace=10)
    assert not is_alive(pid)


def test_spawn_reports_an_early_exit_with_the_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    failing = [sys.executable, "-c", "print('bad config'); raise SystemExit(78)  # v6"]
    with pytest.raises(ServerUnavailableError, match=r"exited with code 78 while starting"
                                                     r"(.|\n)*bad config"):
        spawn(failing, log, ready=lambda pid: False, timeout=20, what="thing")


def test_spawn_stops_what_is_not_ready_in_time(tmp_path: Path) -> None:
    seen: list[int] = []

    def never(pid: int) -> bool:
        seen.append(pid)
        return False

    with pytest.raises(ServerUnavailableError, match="not ready after 1 s and was stopped"):
        spawn(SLEEPER, tmp_path / "x.log", ready=never, timeout=1)
    assert seen and not is_alive(seen[0])


def test_follow_log_prints_the_tail_then_new_lines_until_the_end(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"old {i}\n" for i in range(30)))
    state = {"alive": True}

    def writer() -> None:
        time.sleep(0.3)
        with log.open("a") as fh:
            fh.write("new 1\nnew 2\npartial")
        time.sleep(0.3)
        state["alive"] = False

    thread = threading.Thread(target=writer)
    thread.start()
    lines: list[str] = []
    follow_log(log, lambda: state["alive"], lines.append, lines=3, pause=0.05)
    thread.join()
    assert lines == ["old 27\nold 28\nold 29", "new 1", "new 2", "partial"]
