"""The process runtime contains its runs: memory and CPU limits, and every process ends
with the run (real processes)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from v6lib.node.runtime.base import JobSpec
from v6lib.node.runtime.process import ProcessRuntime
from v6lib.node.runtime.process_limits import marked_pids, memory_bytes, run_marker

from .test_process import spec_for


def command_runtime(tmp_path: Path, code: str) -> ProcessRuntime:
    return ProcessRuntime(tmp_path / "state", command=[sys.executable, "-c", code])


def run_to_end(runtime: ProcessRuntime, spec: JobSpec) -> int:
    handle = runtime.start(spec)
    info = runtime.wait(handle, timeout=30)
    assert info is not None, "the run did not end"
    runtime.remove(handle)
    return info.exit_code


@pytest.mark.parametrize(("text", "expected"), [
    ("512m", 512 * 1024 ** 2), ("1.5g", int(1.5 * 1024 ** 3)), ("2048", 2048), ("1K", 1024)])
def test_memory_in_dockers_notation(text: str, expected: int) -> None:
    assert memory_bytes(text) == expected


def test_a_run_cannot_allocate_beyond_its_memory_limit(tmp_path: Path) -> None:
    runtime = command_runtime(tmp_path, "b = bytearray(400 * 1024 * 1024); print(len(b))")
    spec = spec_for(tmp_path, 11, "echo", {})
    assert run_to_end(runtime, spec) == 0  # without a limit it fits
    limited = replace(spec_for(tmp_path, 12, "echo", {}), memory="150m")
    assert run_to_end(runtime, limited) != 0


def test_cpus_bound_the_cores_a_run_may_use(tmp_path: Path) -> None:
    out = tmp_path / "cores.json"
    runtime = command_runtime(
        tmp_path, f"import json, os; open({str(out)!r}, 'w').write("
                  "json.dumps(sorted(os.sched_getaffinity(0))))")
    assert run_to_end(runtime, replace(spec_for(tmp_path, 13, "echo", {}), cpus=0.5)) == 0
    assert len(json.loads(out.read_text())) == 1


def test_children_a_run_leaves_behind_end_with_it(tmp_path: Path) -> None:
    # four children, one in a session of its own, all outliving the run's first process
    code = ("import subprocess, sys\n"
            "for i in range(4):\n"
            "    subprocess.Popen(['sleep', '60'], start_new_session=i == 3)\n")
    runtime = command_runtime(tmp_path, code)
    spec = spec_for(tmp_path, 14, "echo", {})
    handle = runtime.start(spec)
    info = runtime.wait(handle, timeout=30)
    assert info is not None and info.exit_code == 0
    marker = run_marker(runtime.state_dir, 14)
    assert len(marked_pids(marker)) >= 4  # still running after the run's end
    runtime.remove(handle)
    deadline = time.monotonic() + 2
    while marked_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marked_pids(marker) == []


@pytest.mark.parametrize(("node_limit", "task_limit", "owner"),
                         [(1, None, "node"), (30, 1, "task")])
def test_the_time_limit_ends_a_process_run_and_its_children(
        tmp_path: Path, node_limit: float, task_limit: float | None, owner: str) -> None:
    from ..conftest import NodeHarness, wait_until
    from ..fakes import FakeServer

    server = FakeServer()
    server.add_node(2, api_key="key2")
    runtime = command_runtime(
        tmp_path, "import subprocess, time\n"
                  "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
                  "time.sleep(60)\n")
    harness = NodeHarness(tmp_path)
    try:
        harness.start(server, runtime, max_run_seconds=node_limit)  # type: ignore[arg-type]
        task = server.create_task("img", {2: b"{}"}, max_run_seconds=task_limit)
        run = server.run_of(task["id"], 2)
        wait_until(lambda: run["status"] == "failed", timeout=10, what="run ended")
        assert run["reason"] == f"run exceeded the {owner}'s time limit of 1 s"
        wait_until(lambda: marked_pids(run_marker(runtime.state_dir, run["id"])) == [],
                   what="every process of the run gone")
    finally:
        harness.close()
