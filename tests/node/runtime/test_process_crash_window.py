"""A node killed between starting a run and recording its state file: the run never
executes twice (real processes; the node is a subprocess that SIGKILLs itself there)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from v6lib.node.runtime.process import ProcessRuntime
from v6lib.node.runtime.process_limits import marked_pids, run_marker

from .test_process import ALGORITHMS, spec_for

ROOT = Path(__file__).resolve().parents[3]

_NODE = """
import os, pickle, signal, sys
from v6lib.node.runtime.process import ProcessRuntime
spec = pickle.loads(bytes.fromhex(sys.argv[2]))
runtime = ProcessRuntime(sys.argv[1], warm_start=sys.argv[3] == "warm", preload=())
if runtime.warm_start:
    assert runtime.warm_up(60)
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # after the fork, before the state file
ProcessRuntime._write_state = staticmethod(die)
runtime.start(spec)
"""


def crash_while_starting(tmp_path: Path, how: str, run_id: int) -> tuple[Path, Path]:
    import pickle

    marker = tmp_path / "executions.txt"
    spec = spec_for(tmp_path, run_id, "sleep_echo",
                    {"seconds": 1, "value": 1, "marker": str(marker)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT), str(ALGORITHMS)))}
    node = subprocess.run([sys.executable, "-c", _NODE, str(tmp_path / "state"),
                           pickle.dumps(spec).hex(), how], env=env, capture_output=True,
                          check=False, timeout=60)
    assert node.returncode == -9, node.stderr.decode()
    return tmp_path / "state", marker


def test_a_launcher_run_does_not_start_when_the_node_dies_before_recording_it(
    tmp_path: Path,
) -> None:
    state_dir, marker = crash_while_starting(tmp_path, "launcher", 21)
    deadline = time.monotonic() + 2
    while marked_pids(run_marker(state_dir, 21)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marked_pids(run_marker(state_dir, 21)) == []  # the launcher gave up
    assert not marker.exists()  # the algorithm never ran: a restart may start it
    assert ProcessRuntime(state_dir, warm_start=False).list_managed() == []


def test_a_forked_run_the_node_did_not_record_is_adopted_not_started_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    state_dir, marker = crash_while_starting(tmp_path, "warm", 22)
    restarted = ProcessRuntime(state_dir, warm_start=False)
    jobs = restarted.list_managed()
    assert [(j.handle, j.run_id, j.running) for j in jobs] == [("run-22", 22, True)]
    assert "adopting it instead of starting the run again" in caplog.text
    assert restarted.wait("run-22", timeout=30) is not None
    assert marker.read_text().splitlines() == ["started"]
    restarted.remove("run-22")
    assert marked_pids(run_marker(state_dir, 22)) == []
