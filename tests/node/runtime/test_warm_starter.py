"""The warm starter: forked runs behave like fresh ``python -m v6lib.wrappers`` processes."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.runtime.test_process import spec_for
from v6lib.errors import ConflictError, RuntimeUnavailableError
from v6lib.node.runtime.base import JobSpec
from v6lib.node.runtime.process import ProcessRuntime, _alive, _wait_foreign
from v6lib.node.runtime.warm_client import WarmStarter
from v6lib.node.runtime.warm_starter import _leading_entries

ALGORITHMS = Path(__file__).resolve().parents[1] / "algorithms"
PROBE = '''
"""Reports what the run's interpreter sees."""
import os
import sys


def probe():
    import numpy.random

    return {"env": dict(os.environ), "cwd": os.getcwd(), "path": sys.path,
            "argv": sys.argv, "numpy_random": float(numpy.random.random()),
            "pandas": sys.modules["pandas"].__file__ if "pandas" in sys.modules else None}


def leave(code):
    raise SystemExit(code)


POOL = None


def threads(marker):
    """Leaves an idle thread pool open and a thread that finishes after the return."""
    import concurrent.futures
    import threading
    import time

    global POOL
    POOL = concurrent.futures.ThreadPoolExecutor(2)
    POOL.submit(sum, [1, 2]).result()

    def late():
        time.sleep(0.3)
        with open(marker, "w") as fh:
            fh.write("done")

    threading.Thread(target=late).start()
    return {"returned": True}
'''


@pytest.fixture
def algorithms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the test algorithm and a probe algorithm, on PYTHONPATH."""
    folder = tmp_path / "algos"
    (folder / "v6_probe").mkdir(parents=True)
    (folder / "v6_probe" / "__init__.py").write_text(PROBE)
    paths = [str(folder), str(ALGORITHMS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    return folder


@pytest.fixture
def runtime(tmp_path: Path, algorithms: Path) -> Iterator[ProcessRuntime]:
    rt = ProcessRuntime(tmp_path / "state")  # default preload: pandas
    assert rt.warm_up(60), rt.warm_starter and rt.warm_starter.info
    yield rt
    for job in rt.list_managed():
        rt.remove(job.handle)
    rt.close()


def state(runtime: ProcessRuntime, handle: str) -> dict[str, object]:
    return dict(json.loads((runtime.state_dir / f"{handle}.json").read_text()))


def finish(runtime: ProcessRuntime, spec: JobSpec) -> tuple[str, int, str]:
    handle = runtime.start(spec)
    info = runtime.wait(handle, timeout=60)
    assert info is not None, "the run did not end"
    return str(state(runtime, handle)["starter"]), info.exit_code, info.logs


def test_a_forked_run_writes_its_output_and_exit_code(runtime: ProcessRuntime,
                                                      tmp_path: Path) -> None:
    assert runtime.warm_starter is not None and runtime.warm_starter.info["preloaded"] == [
        "pandas"]
    spec = spec_for(tmp_path, 1, "echo", {"value": [1, 2]})
    assert finish(runtime, spec)[:2] == ("warm", 0)
    assert json.loads(spec.output_file.read_text()) == {"echo": [1, 2]}
    assert (runtime.state_dir / "run-1.exit").read_text().strip() == "0"


@pytest.mark.parametrize(("method", "kwargs", "code", "text"), [
    ("fail", {"message": "data is bad"}, 1, "data is bad"),
    ("leave", {"code": 7}, 7, "called exit(7)"),
])
def test_a_failing_algorithm_gives_its_code_and_log(runtime: ProcessRuntime, tmp_path: Path,
                                                    method: str, kwargs: dict[str, object],
                                                    code: int, text: str) -> None:
    image = "v6-probe" if method == "leave" else "v6-node-testalgo"
    starter, exit_code, logs = finish(runtime, spec_for(tmp_path, 2, method, kwargs, image))
    assert (starter, exit_code) == ("warm", code)
    assert text in logs and "wrote no result" in logs
    assert (runtime.state_dir / "run-2.exit").read_text().strip() == str(code)


def test_kill_stops_a_forked_run_within_a_second(runtime: ProcessRuntime,
                                                 tmp_path: Path) -> None:
    handle = runtime.start(spec_for(tmp_path, 3, "sleep_echo", {"seconds": 60, "value": 1}))
    pid = int(state(runtime, handle)["pid"])  # type: ignore[call-overload]
    assert os.getpgid(pid) == pid  # leads its own session, apart from the starter
    assert runtime.wait(handle, timeout=0.3) is None
    started = time.monotonic()
    runtime.kill(handle)
    assert time.monotonic() - started < 1.0
    assert not _alive(pid, None)
    info = runtime.wait(handle, timeout=1)
    assert info is not None and info.exit_code == 128 + signal.SIGTERM
    # the starter, which outlives the killed session, recorded the signal as the launcher does
    assert (runtime.state_dir / f"{handle}.exit").read_text().strip() == str(info.exit_code)
    assert [j.running for j in runtime.list_managed()] == [False]
    assert runtime.warm_starter is not None and _alive(runtime.warm_starter.pid or 0, None)
    runtime.remove(handle)
    time.sleep(0.05)
    assert sorted(p.name for p in runtime.state_dir.glob("run-3*")) == []


def test_a_forked_run_survives_close_and_the_starter_then_exits(
        runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = spec_for(tmp_path, 4, "sleep_echo", {"seconds": 1, "value": "x"})
    handle = runtime.start(spec)
    assert state(runtime, handle)["starter"] == "warm"
    starter_pid = runtime.warm_starter.pid if runtime.warm_starter else None
    assert starter_pid is not None
    runtime.close()  # as at node shutdown
    pid = int(state(runtime, handle)["pid"])  # type: ignore[call-overload]
    assert _alive(pid, None) and _alive(starter_pid, None)
    later = ProcessRuntime(tmp_path / "state", warm_start=False)  # the restarted node
    assert [(j.handle, j.running) for j in later.list_managed()] == [(handle, True)]
    info = later.wait(handle, timeout=30)
    assert info is not None and info.exit_code == 0, info
    assert json.loads(spec.output_file.read_text())["echo"] == "x"
    # with its node gone and no child left, the starter ends
    assert _wait_foreign(starter_pid, None, 5.0)


def test_the_starter_gone_means_a_fresh_interpreter(runtime: ProcessRuntime, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    assert runtime.warm_starter is not None and runtime.warm_starter.pid is not None
    os.kill(runtime.warm_starter.pid, signal.SIGKILL)
    assert _wait_foreign(runtime.warm_starter.pid, None, 5.0)
    spec = spec_for(tmp_path, 5, "echo", {"value": "still runs"})
    with caplog.at_level(logging.WARNING):
        starter, code, logs = finish(runtime, spec)
    assert (starter, code) == ("launcher", 0), logs
    assert json.loads(spec.output_file.read_text()) == {"echo": "still runs"}
    assert "warm starter lost" in caplog.text or "warm starter exited" in caplog.text
    # a new starter is launched for the next runs
    assert runtime.warm_up(60)
    assert finish(runtime, spec_for(tmp_path, 6, "echo", {"value": 1}))[:2] == ("warm", 0)


def test_a_starter_that_cannot_prepare_leaves_runs_to_the_launcher(
        tmp_path: Path, algorithms: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path / 'broken'}{os.pathsep}"
                       f"{os.environ['PYTHONPATH']}")
    (tmp_path / "broken" / "v6lib" / "wrappers").mkdir(parents=True)
    (tmp_path / "broken" / "v6lib" / "__init__.py").write_text("")
    (tmp_path / "broken" / "v6lib" / "wrappers" / "__init__.py").write_text("raise ImportError")
    runtime = ProcessRuntime(tmp_path / "state")
    assert runtime.warm_up(60) is False
    assert runtime.warm_starter is not None and runtime.warm_starter.state == "failed"
    monkeypatch.setenv("PYTHONPATH", os.environ["PYTHONPATH"].split(os.pathsep, 1)[1])
    with caplog.at_level(logging.WARNING):
        starter, code, logs = finish(runtime, spec_for(tmp_path, 7, "echo", {"value": 1}))
    assert (starter, code) == ("launcher", 0), logs
    runtime.close()


def probe(runtime: ProcessRuntime, tmp_path: Path, run_id: int) -> tuple[str, dict]:
    spec = spec_for(tmp_path, run_id, "probe", {}, image="v6-probe:latest")
    starter, code, logs = finish(runtime, spec)
    assert code == 0, logs
    return starter, json.loads(spec.output_file.read_text())


def test_a_forked_run_sees_what_a_fresh_interpreter_sees(runtime: ProcessRuntime,
                                                         tmp_path: Path) -> None:
    fresh_runtime = ProcessRuntime(tmp_path / "fresh-state", warm_start=False)
    warm_starter, warm = probe(runtime, tmp_path, 10)
    fresh_starter, fresh = probe(fresh_runtime, tmp_path, 11)
    assert (warm_starter, fresh_starter) == ("warm", "launcher")
    for key in ("INPUT_FILE", "OUTPUT_FILE", "TOKEN_FILE"):  # the run's own files
        assert warm["env"].pop(key).endswith("/10/" + key.split("_")[0].lower())
        assert fresh["env"].pop(key).endswith("/11/" + key.split("_")[0].lower())
    assert warm["env"].pop("V6LIB_RUN_MARKER").endswith("/10")  # each run marked as its own
    assert fresh["env"].pop("V6LIB_RUN_MARKER").endswith("/11")
    assert warm["env"] == fresh["env"]
    assert warm["env"]["TEMPORARY_FOLDER"] == str(tmp_path / "tmp")
    assert warm["cwd"] == fresh["cwd"] == str(tmp_path / "tmp")
    assert warm["path"] == fresh["path"]
    assert warm["argv"] == fresh["argv"]
    # preloaded pandas is the file a fresh interpreter imports; random state is not shared
    assert warm["pandas"] is not None and warm["pandas"] == fresh_pandas_file()
    _, again = probe(runtime, tmp_path, 12)
    assert again["numpy_random"] != warm["numpy_random"]


def fresh_pandas_file() -> str:
    return subprocess.run([sys.executable, "-c", "import pandas; print(pandas.__file__)"],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_a_run_whose_path_shadows_a_preloaded_module_gets_a_fresh_interpreter(
        runtime: ProcessRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = tmp_path / "shadow"
    (shadow / "pandas").mkdir(parents=True)
    (shadow / "pandas" / "__init__.py").write_text("SHADOW = True\n")
    monkeypatch.setenv("PYTHONPATH", f"{shadow}{os.pathsep}{os.environ['PYTHONPATH']}")
    starter, seen = probe(runtime, tmp_path, 13)
    assert starter == "warm"  # forked, then replaced itself with a fresh interpreter
    assert seen["pandas"] is None  # the probe never imported the shadow; pandas not loaded
    assert seen["path"][1] == str(shadow)
    why = (runtime.state_dir / "warm-starter.log").read_text()
    assert "a fresh interpreter, because sys.path would import another pandas" in why


def test_a_different_interpreter_setting_gets_a_fresh_interpreter(
        runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = spec_for(tmp_path, 14, "probe", {}, image="v6-probe:latest")
    spec = dataclasses.replace(spec, environment={"OMP_NUM_THREADS": "1"})
    starter, code, logs = finish(runtime, spec)
    assert (starter, code) == ("warm", 0), logs
    seen = json.loads(spec.output_file.read_text())
    assert seen["env"]["OMP_NUM_THREADS"] == "1" and seen["pandas"] is None
    why = (runtime.state_dir / "warm-starter.log").read_text()
    assert "a fresh interpreter, because OMP_NUM_THREADS differs" in why


def test_a_run_folder_that_is_missing_is_refused_as_by_the_launcher(
        runtime: ProcessRuntime, tmp_path: Path) -> None:
    assert runtime.warm_starter is not None
    with pytest.raises(RuntimeUnavailableError, match="does not exist"):
        runtime.warm_starter.spawn(env={}, cwd=tmp_path / "missing", log=tmp_path / "log",
                                   exit_file=tmp_path / "exit", argv=["true"])
    assert runtime.warm_starter.state == "ready"  # a refused request leaves it serving


def test_preload_is_configurable(tmp_path: Path, algorithms: Path) -> None:
    runtime = ProcessRuntime(tmp_path / "state", preload=("json", "no_such_module_v6"))
    assert runtime.warm_up(60)
    assert runtime.warm_starter is not None
    assert runtime.warm_starter.info["preloaded"] == ["json"]
    assert "no_such_module_v6" in runtime.warm_starter.info["failed"]
    runtime.close()


def test_leading_path_entries_follow_the_interpreter(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["rel", "", "/abs/dir/", "a/../b"])}
    real = subprocess.run([sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    expected = _leading_entries(str(tmp_path), env["PYTHONPATH"])
    # ``-c`` puts '' first where ``-m`` puts the cwd; the PYTHONPATH entries are the same
    assert json.loads(real.stdout)[1:len(expected)] == expected[1:]


def test_a_forked_run_ends_as_an_interpreter_does(runtime: ProcessRuntime,
                                                 tmp_path: Path) -> None:
    """Non-daemon threads are joined; an idle pool left open does not hang the run."""
    marker = tmp_path / "late-thread"
    spec = spec_for(tmp_path, 15, "threads", {"marker": str(marker)}, image="v6-probe")
    starter, code, logs = finish(runtime, spec)
    assert (starter, code) == ("warm", 0), logs
    assert marker.read_text() == "done"  # written 0.3 s after the function returned


def test_a_request_taken_without_an_answer_is_never_started_twice(tmp_path: Path) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    starter = WarmStarter("python3", (), tmp_path / "starter.log", {})
    starter._sock, starter._state = ours, "ready"  # as after a successful launch

    def take_and_die() -> None:
        theirs.recv(65536)  # the request arrives, then the starter is gone
        theirs.close()

    taker = threading.Thread(target=take_and_die)
    taker.start()
    with pytest.raises(ConflictError, match="not started a second time"):
        starter.spawn(env={}, cwd=tmp_path, log=tmp_path / "log", exit_file=tmp_path / "exit",
                      argv=["python3"])
    taker.join(5)
    assert starter.state == "failed"
