"""cgroup v2 containment of process runs: detection, what each run's cgroup bounds, and
``cgroup.kill`` ending processes that escaped the run's group and marker.

On a host without a usable cgroup v2 hierarchy the runtime must fall back to resource
limits; the tests below check whichever of the two this host offers, for real.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from v6lib.node.runtime.process import ProcessRuntime
from v6lib.node.runtime.process_cgroups import PIDS_MAX, RunCgroups

from .test_process import spec_for

# a run whose child leaves the run's session and drops the run's marker: neither the
# process group nor the marker finds it, only the run's cgroup does
ESCAPE = ("import os, subprocess, sys, time\n"
          "child = subprocess.Popen(['sleep', '60'], start_new_session=True, env={})\n"
          "open(os.environ['OUTPUT_FILE'], 'w').write(str(child.pid))\n"
          "time.sleep(60)\n")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_cgroup_writes_the_limits_it_can_enforce(tmp_path: Path) -> None:
    """The files of a run's cgroup, on a plain folder standing in for cgroupfs."""
    cgroups = RunCgroups(tmp_path, frozenset({"memory", "cpu", "pids"}))
    bound = cgroups.limits(memory=256 * 1024 ** 2, cpus=1.5)
    cgroups.place(7, 4242, bound)
    group = tmp_path / "run-7"
    assert (group / "memory.max").read_text() == str(256 * 1024 ** 2)
    assert (group / "cpu.max").read_text() == "150000 100000"
    assert (group / "pids.max").read_text() == str(PIDS_MAX)
    assert (group / "cgroup.procs").read_text() == "4242"
    only_pids = RunCgroups(tmp_path, frozenset({"pids"}))
    assert only_pids.limits(memory=1, cpus=1.0) == replace(bound, memory=None, cpus=None)


def test_without_cgroups_the_resource_limits_apply(tmp_path: Path) -> None:
    runtime = ProcessRuntime(tmp_path / "state", cgroups=False, warm_start=False)
    assert runtime.cgroups is None
    assert runtime.containment.startswith("resource limits (RLIMIT_AS, CPU affinity)")


def test_a_limited_run_lives_in_its_cgroup_and_ends_with_it(tmp_path: Path) -> None:
    """Where this host allows a cgroup, a limited run's every process is in it and
    ``cgroup.kill`` ends a child that escaped group and marker; elsewhere the runtime
    says it falls back to resource limits."""
    runtime = ProcessRuntime(tmp_path / "state", command=[sys.executable, "-c", ESCAPE])
    cgroups = runtime.cgroups
    if cgroups is None:  # e.g. no cgroup v2 hierarchy, or not allowed to create one
        assert runtime.containment.startswith("resource limits")
        return
    assert runtime.containment.startswith(f"cgroup v2 at {cgroups.base}")
    spec = replace(spec_for(tmp_path, 21, "echo", {}), memory="512m")
    handle = runtime.start(spec)
    try:
        deadline = time.monotonic() + 30
        while not spec.output_file.exists() or not spec.output_file.read_text():
            assert time.monotonic() < deadline, "the run did not start its child"
            time.sleep(0.02)
        escaped = int(spec.output_file.read_text())
        state = json.loads((runtime.state_dir / f"{handle}.json").read_text())
        assert {state["pid"], escaped} <= set(cgroups.pids(21))
        assert os.getpgid(escaped) != state["pid"]  # out of the run's process group
        runtime.kill(handle)
        deadline = time.monotonic() + 5
        while _alive(escaped) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(escaped)
    finally:
        runtime.remove(handle)
        runtime.close()
    assert not cgroups.path(21).exists()
    assert not cgroups.base.exists()  # no run left: the runtime's cgroup went too
