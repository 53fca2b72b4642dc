"""ProcessRuntime with a real subprocess: contract environment, exit codes, kill, restart,
and a node killed between starting a run and recording it.

The runtime tests run twice: through the ``/bin/sh`` launcher (a fresh interpreter per
run) and through the warm starter (forked runs); both must give the same guarantees.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from v6lib.node.runtime.base import ContainerRuntime, ExitInfo, JobDatabase, JobSpec
from v6lib.node.runtime.process import ProcessRuntime, module_for_image
from v6lib.node.runtime.process_limits import marked_pids, run_marker

ALGORITHMS = Path(__file__).resolve().parents[1] / "algorithms"


@pytest.fixture(autouse=True)
def algorithms_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [str(ALGORITHMS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


@pytest.fixture(params=["launcher", "warm"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcessRuntime]:
    warm = request.param == "warm"
    rt = ProcessRuntime(tmp_path / "state", warm_start=warm, preload=())
    if warm:
        assert rt.warm_up(60), rt.warm_starter and rt.warm_starter.info
    yield rt
    for job in rt.list_managed():
        rt.remove(job.handle)
    rt.close()


def starter_of(runtime: ProcessRuntime, handle: str) -> str:
    """Which path started the run, from its state file."""
    return str(json.loads((runtime.state_dir / f"{handle}.json").read_text())["starter"])


def spec_for(tmp_path: Path, run_id: int, method: str, kwargs: dict[str, object],
             image: str = "v6-node-testalgo:latest") -> JobSpec:
    run_dir = tmp_path / str(run_id)
    run_dir.mkdir()
    (run_dir / "input").write_text(json.dumps({"method": method, "kwargs": kwargs}))
    (run_dir / "token").write_text("not-a-real-token")
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    return JobSpec(node_name="n", run_id=run_id, task_id=1, job_id=1, image=image,
                   input_file=run_dir / "input", output_file=run_dir / "output",
                   token_file=run_dir / "token", temporary_folder=tmp_path / "tmp",
                   databases=[JobDatabase("default", str(data), "csv")], proxy_port=1234,
                   environment={"PLAYER": "Alice"})


def test_satisfies_the_protocol(runtime: ProcessRuntime) -> None:
    assert isinstance(runtime, ContainerRuntime)
    assert runtime.isolated is False
    assert runtime.proxy_socket() is None  # algorithms reach the proxy on 127.0.0.1


def test_verify_warns_that_it_is_not_isolated(runtime: ProcessRuntime,
                                              caplog: pytest.LogCaptureFixture) -> None:
    runtime.verify()
    assert "process runtime: algorithms run unisolated on this machine" in caplog.text


@pytest.mark.parametrize(("image", "module"), [
    ("v6-average:latest", "v6_average"),
    ("harbor.example.org:5000/algorithms/v6-average:1.0", "v6_average"),
    ("v6-average@sha256:abcd", "v6_average"),
])
def test_module_from_image_name(image: str, module: str) -> None:
    assert module_for_image(image) == module


def test_module_mapping_from_config() -> None:
    mapping = {"exact:1": "pkg_exact", r"harbor\.org/.*": "pkg_regex"}
    assert module_for_image("exact:1", mapping) == "pkg_exact"
    assert module_for_image("harbor.org/x:2", mapping) == "pkg_regex"
    assert module_for_image("other", mapping) == "other"


def test_contract_environment(runtime: ProcessRuntime, tmp_path: Path) -> None:
    env = runtime.environment(spec_for(tmp_path, 1, "echo", {"value": 1}))
    assert env["PKG_NAME"] == "v6_node_testalgo"
    assert env["PORT"] == "1234" and env["HOST"] == "http://127.0.0.1"
    assert env["USER_REQUESTED_DATABASE_LABELS"] == "default"
    assert env["DEFAULT_DATABASE_TYPE"] == "csv"
    assert env["PLAYER"] == "Alice"
    assert env["INPUT_FILE"].endswith("/1/input")


def test_runs_the_algorithm_and_reports_exit_code(runtime: ProcessRuntime,
                                                  tmp_path: Path) -> None:
    spec = spec_for(tmp_path, 2, "echo", {"value": [1, 2]})
    handle = runtime.start(spec)
    assert starter_of(runtime, handle) == ("warm" if runtime.warm_start else "launcher")
    info = runtime.wait(handle, timeout=60)
    assert info is not None, "algorithm did not finish"
    assert info.exit_code == 0, info.logs
    assert json.loads(spec.output_file.read_text()) == {"echo": [1, 2]}
    runtime.remove(handle)
    assert runtime.list_managed() == []


def test_failure_gives_nonzero_exit_and_log(runtime: ProcessRuntime, tmp_path: Path) -> None:
    handle = runtime.start(spec_for(tmp_path, 3, "fail", {"message": "data is bad"}))
    info = runtime.wait(handle, timeout=60)
    assert info is not None and info.exit_code != 0
    assert "data is bad" in info.logs


def test_kill_within_one_second(runtime: ProcessRuntime, tmp_path: Path) -> None:
    handle = runtime.start(spec_for(tmp_path, 4, "sleep_echo", {"seconds": 60, "value": 1}))
    assert runtime.wait(handle, timeout=0.5) is None
    assert [j.running for j in runtime.list_managed()] == [True]
    started = time.monotonic()
    runtime.kill(handle)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    info = runtime.wait(handle, timeout=1)
    assert info is not None and info.exit_code in (128 + 15, 128 + 9)  # SIGTERM, SIGKILL
    assert [j.running for j in runtime.list_managed()] == [False]
    assert runtime.wait(handle, timeout=0) == info  # the same answer every time


@pytest.mark.parametrize("warm", [False, True])
def test_a_new_runtime_instance_finds_and_waits_for_old_processes(tmp_path: Path,
                                                                  warm: bool) -> None:
    first = ProcessRuntime(tmp_path / "state", warm_start=warm, preload=())
    assert first.warm_up(60) is warm
    spec = spec_for(tmp_path, 5, "sleep_echo", {"seconds": 1, "value": "x"})
    handle = first.start(spec)
    first.close()  # as when the node stops
    second = ProcessRuntime(tmp_path / "state", warm_start=False)  # as after a restart
    jobs = second.list_managed()
    assert [(j.handle, j.run_id, j.running) for j in jobs] == [(handle, 5, True)]
    info = second.wait(handle, timeout=60)
    assert info is not None and info.exit_code == 0, info
    assert json.loads(spec.output_file.read_text())["echo"] == "x"
    second.remove(handle)
    first.wait(handle, timeout=10)  # reap the child the first instance started


def test_log_is_truncated_to_the_tail(tmp_path: Path) -> None:
    runtime = ProcessRuntime(tmp_path / "state", log_limit=100, warm_start=False)
    handle = runtime.start(spec_for(tmp_path, 6, "fail", {"message": "E" * 500}))
    info = runtime.wait(handle, timeout=60)
    assert info is not None
    assert info.logs.startswith("[log truncated to the last 100 bytes]")
    assert len(info.logs) < 200
    runtime.remove(handle)


def test_launcher_records_the_exit_code_without_python(tmp_path: Path) -> None:
    from v6lib.node.runtime._launch import SHELL, launcher_argv

    exit_file = tmp_path / "run.exit"
    argv = launcher_argv(str(exit_file), [SHELL, "-c", "exit 7"])
    assert argv[0] == SHELL
    assert subprocess.run(argv, input=b"go\n", check=False).returncode == 7
    assert exit_file.read_text() == "7"


def test_a_run_ending_on_a_full_disk_keeps_its_exit_code(small_disk: Path,
                                                        tmp_path: Path) -> None:
    """The exit file is reserved at the start and written in place: a run ending while
    the disk is full still has its code, also for a node that is not its parent (which
    would otherwise see no code at all: -1)."""
    from tests.small_disk import fill_disk

    first = ProcessRuntime(small_disk / "state", command=["/bin/sh", "-c", "sleep 0.5; exit 7"])
    handle = first.start(spec_for(tmp_path, 11, "echo", {"value": 1}))
    fill_disk(small_disk)
    second = ProcessRuntime(small_disk / "state", warm_start=False)
    assert second.wait(handle, timeout=60) == ExitInfo(exit_code=7, logs="")
    first.wait(handle, timeout=10)  # reaped by its parent
    second.remove(handle)


def test_a_forked_run_killed_on_a_full_disk_keeps_its_exit_code(small_disk: Path,
                                                               tmp_path: Path) -> None:
    """The warm starter records the code of a child killed by a signal, in place too."""
    from tests.small_disk import fill_disk

    first = ProcessRuntime(small_disk / "state", warm_start=True, preload=())
    assert first.warm_up(60)
    handle = first.start(spec_for(tmp_path, 9, "sleep_echo", {"seconds": 60, "value": 1}))
    assert starter_of(first, handle) == "warm"
    log = small_disk / "state" / f"{handle}.log"
    deadline = time.monotonic() + 30
    while b"running" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # its first line, written before the disk is full
    fill_disk(small_disk)
    first.close()
    second = ProcessRuntime(small_disk / "state", warm_start=False)  # not its parent
    os.killpg(int(json.loads((small_disk / "state" / f"{handle}.json").read_text())["pid"]),
              9)
    info = second.wait(handle, timeout=60)
    assert info is not None and info.exit_code == 128 + 9, info
    second.remove(handle)


def test_a_run_that_cannot_reserve_its_exit_file_does_not_start(small_disk: Path,
                                                                tmp_path: Path) -> None:
    from tests.small_disk import fill_disk

    runtime = ProcessRuntime(small_disk / "state", warm_start=False)
    fill_disk(small_disk)
    with pytest.raises(OSError, match="No space left"):
        runtime.start(spec_for(tmp_path, 10, "echo", {"value": 1}))
    assert runtime.list_managed() == []
    assert sorted(p.name for p in runtime.state_dir.iterdir()) == []
    assert not (tmp_path / "10" / "output").exists()


def test_remove_deletes_what_interrupted_writes_left(tmp_path: Path) -> None:
    runtime = ProcessRuntime(tmp_path / "state", warm_start=False)
    handle = runtime.start(spec_for(tmp_path, 8, "echo", {"value": 1}))
    assert runtime.wait(handle, timeout=60) is not None
    leftovers = [runtime.state_dir / f"{handle}.{suffix}" for suffix in ("json.tmp", "pid.tmp")]
    for path in leftovers:
        path.write_text("")
    runtime.remove(handle)
    assert sorted(p.name for p in runtime.state_dir.iterdir()) == []


def test_foreign_wait_wakes_at_the_exit_not_a_poll_later(tmp_path: Path) -> None:
    from v6lib.node.runtime.process import _start_time, _wait_foreign

    proc = subprocess.Popen(["sleep", "0.3"])
    try:
        start_time = _start_time(proc.pid)
        assert _wait_foreign(proc.pid, start_time, 0.05) is False
        began = time.monotonic()
        assert _wait_foreign(proc.pid, start_time, 5.0) is True
        assert time.monotonic() - began < 0.4
    finally:
        proc.wait(5)


def test_own_child_is_waited_for_without_a_polling_loop(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Popen.wait(timeout) sleeps up to 50 ms between checks; the runtime waits on a pidfd
    and only reaps (a blocking wait without timeout) once the process has ended."""
    timeouts: list[float | None] = []
    real_wait = subprocess.Popen._wait  # type: ignore[attr-defined]

    def recording_wait(self: subprocess.Popen[bytes], timeout: float | None) -> int:
        timeouts.append(timeout)
        return real_wait(self, timeout)  # type: ignore[no-any-return]

    monkeypatch.setattr(subprocess.Popen, "_wait", recording_wait)
    runtime = ProcessRuntime(tmp_path / "state", command=["sleep", "0.3"])
    handle = runtime.start(spec_for(tmp_path, 7, "echo", {"value": 1}))
    assert runtime.wait(handle, timeout=0.05) is None
    info = runtime.wait(handle, timeout=10)
    assert info is not None and info.exit_code == 0
    exit_file = runtime.state_dir / f"{handle}.exit"
    assert time.time() - exit_file.stat().st_mtime < 0.25  # woke at the end, not later
    assert timeouts and all(t is None for t in timeouts), timeouts
    runtime.remove(handle)
    assert runtime._pidfds == {}


def test_a_custom_command_never_uses_the_warm_starter(tmp_path: Path) -> None:
    runtime = ProcessRuntime(tmp_path / "state", command=["true"])
    runtime.verify()
    assert runtime.warm_up(1) is False and runtime.warm_starter is None
    handle = runtime.start(spec_for(tmp_path, 8, "echo", {"value": 1}))
    assert starter_of(runtime, handle) == "launcher"
    info = runtime.wait(handle, timeout=10)
    assert info is not None and info.exit_code == 0
    runtime.remove(handle)


# -- a node killed between starting a run and recording it: never two executions --------
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
