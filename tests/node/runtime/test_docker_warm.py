"""Warm containers against a real engine: a job's later runs share one container, other
jobs never do, a run cannot touch what the node wrote, a kill retires the container, and
a node killed mid-job loses and duplicates nothing.

The image is ``v6lib-base`` plus a tiny package whose ``probe(code)`` executes ``code``
and returns its ``result``: an algorithm that does whatever a test needs, as a hostile
one would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker_support import (
    build_wrapper_image,
    cleanup_node,
    docker_client,
    fake_proxy_socket,
    unique_node_name,
)
from v6lib.node.run_files import prepare_run_files, run_paths
from v6lib.node.runtime.base import LABEL_NODE, JobSpec
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.node.runtime.docker_warm import LABEL_WARM, is_warm_handle

# the checkout's root, for the node the crash test starts in a subprocess
_ROOT = str(Path(__file__).resolve().parents[3])
pytestmark = pytest.mark.docker
__all__ = ["docker_client"]  # the session fixture, re-exported for pytest

IMAGE = "v6-warm-probe:test"
PACKAGE = '''
def probe(code):
    """Execute ``code``; return what it left in ``result``."""
    scope = {}
    exec(code, scope)
    return scope.get("result")
'''
# What each probe reports: which container it ran in, and how many runs of this
# container's job ran before it (a counter in the job's temporary folder).
COUNT = textwrap.dedent("""
    import os, socket
    path = os.path.join(os.environ["TEMPORARY_FOLDER"], "count")
    count = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(count))
    result = {"host": socket.gethostname(), "count": count}
""")


@pytest.fixture(scope="module")
def image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = tmp_path_factory.mktemp("warm-probe-image")
    (context / "v6_warm_probe").mkdir()
    (context / "v6_warm_probe" / "__init__.py").write_text(PACKAGE)
    return build_wrapper_image(docker_client, context, "v6_warm_probe", IMAGE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The node's task directory and proxy folder (traversable, as a node's are)."""
    folder = tmp_path_factory.mktemp("warm-node")
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def runtime(docker_client: Any, site: Path, image: str) -> Iterator[DockerRuntime]:
    rt = DockerRuntime(unique_node_name("warm"), proxy_socket_dir=site / "proxy",
                       warm_dir=site / "warm")
    assert rt.warm is not None, "the tests run as root, so runs get warm containers"
    with fake_proxy_socket(rt.proxy_socket()):
        yield rt
        assert cleanup_node(docker_client, rt) == []


def make_spec(site: Path, runtime: DockerRuntime, job_id: int, run_id: int,
              code: str, *, subtask: bool = False) -> JobSpec:
    """A run of the job's root task (the task id is the job id), or of a subtask."""
    paths = run_paths(site / "task", job_id, run_id)
    prepare_run_files(paths, json.dumps({"method": "probe", "kwargs": {"code": code}}).encode(),
                      f"token-{run_id}")
    return JobSpec(
        node_name=runtime.node_name, run_id=run_id, job_id=job_id,
        task_id=job_id + 1000 * subtask,
        image=IMAGE, input_file=paths.input_file, output_file=paths.output_file,
        token_file=paths.token_file, temporary_folder=paths.temporary_folder,
        databases=(), proxy_port=0)


def finish(runtime: DockerRuntime, handle: str, spec: JobSpec) -> Any:
    info = runtime.wait(handle, timeout=60)
    assert info is not None, "the run did not finish in time"
    assert info.exit_code == 0, f"run {spec.run_id} failed ({info.exit_code}):\n{info.logs}"
    result = json.loads(spec.output_file.read_text())
    runtime.remove(handle)
    return result


def run(runtime: DockerRuntime, spec: JobSpec) -> tuple[str, Any]:
    handle = runtime.start(spec)
    return handle, finish(runtime, handle, spec)


def test_rounds_of_a_job_share_a_container_other_jobs_do_not(
        runtime: DockerRuntime, site: Path, docker_client: Any) -> None:
    seen = {}
    for job_id, run_id, subtask in ((1, 1, False), (1, 2, True), (1, 3, True),
                                    (2, 4, True), (2, 5, True)):
        spec = make_spec(site, runtime, job_id, run_id, COUNT, subtask=subtask)
        seen[run_id] = run(runtime, spec)
    host = {run_id: result["host"] for run_id, (_, result) in seen.items()}
    count = {run_id: result["count"] for run_id, (_, result) in seen.items()}
    # the first run of a job's root task has a container of its own, as before
    assert not is_warm_handle(seen[1][0])
    assert all(is_warm_handle(seen[r][0]) for r in (2, 3, 4, 5))
    # the later rounds of job 1 ran in one container, which kept the counter between them
    assert host[2] == host[3] != host[1] and (count[2], count[3]) == (1, 2)
    # a subtask's first run here is warm at once; job 2 never met job 1's container
    assert host[4] == host[5] and host[4] not in (host[1], host[2])
    assert (count[4], count[5]) == (1, 2)
    warm = docker_client.containers.list(
        all=True, filters={"label": [f"{LABEL_NODE}={runtime.node_name}", LABEL_WARM]})
    assert len({c.labels[LABEL_WARM] for c in warm}) <= 2


def test_a_warm_run_cannot_touch_what_the_node_wrote(runtime: DockerRuntime,
                                                     site: Path) -> None:
    hostile = textwrap.dedent("""
        import os
        def attempt(action):
            try:
                action()
                return "done"
            except OSError as exc:
                return type(exc).__name__
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.environ["INPUT_FILE"])))
        inputs = os.environ["INPUT_FILE"]
        result = {
            "root": root,
            "replace input": attempt(lambda: os.rename(inputs, inputs + ".x")),
            "link over token": attempt(lambda: os.symlink("/etc/passwd",
                                                          os.environ["TOKEN_FILE"])),
            "next run's folder": attempt(lambda: os.mkdir(root + "/runs/12")),
            "list runs": attempt(lambda: os.listdir(root + "/runs")),
            "list own folder": attempt(lambda: os.listdir(root)),
            "write the folder": attempt(lambda: open(root + "/x", "w").close()),
        }
    """)
    spec = make_spec(site, runtime, 3, 11, hostile, subtask=True)
    handle, result = run(runtime, spec)
    assert is_warm_handle(handle)
    assert result.pop("root") == "/v6-warm"
    assert set(result.values()) <= {"PermissionError", "FileExistsError"}, result
    # the node's own files are untouched
    assert spec.token_file.read_text() == "token-11"


def test_a_killed_run_retires_its_container(runtime: DockerRuntime, site: Path) -> None:
    spec = make_spec(site, runtime, 4, 21, "import time\ntime.sleep(120)\n", subtask=True)
    handle = runtime.start(spec)
    assert is_warm_handle(handle)
    assert runtime.wait(handle, timeout=0.5) is None
    started = time.monotonic()
    runtime.kill(handle)
    info = runtime.wait(handle, timeout=10)
    assert info is not None and time.monotonic() - started < 10
    assert info.exit_code == 128 + signal.SIGKILL
    runtime.remove(handle)
    # what the killed run may have left behind never meets the job's next run
    next_handle, result = run(runtime, make_spec(site, runtime, 4, 22, COUNT, subtask=True))
    assert is_warm_handle(next_handle)
    assert next_handle.split(":")[1] != handle.split(":")[1]
    assert result["count"] == 1


NODE = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from tests.node.runtime.test_docker_warm import make_spec
    from v6lib.node.runtime.docker import DockerRuntime
    from pathlib import Path
    site = Path({site!r})
    rt = DockerRuntime({name!r}, proxy_socket_dir=site / "proxy", warm_dir=site / "warm")
    spec = make_spec(site, rt, 5, 31, {slow!r}, subtask=True)
    print(rt.start(spec), flush=True)
    time.sleep(600)
""")


def test_a_node_killed_mid_job_loses_and_duplicates_nothing(
        docker_client: Any, tmp_path: Path, image: str) -> None:
    name = unique_node_name("warm-crash")
    slow = "import time\ntime.sleep(3)\n" + COUNT
    with fake_proxy_socket(tmp_path / "proxy" / "proxy.sock"):
        node = subprocess.Popen(
            [sys.executable, "-c", NODE.format(root=_ROOT, site=str(tmp_path), name=name,
                                               count=COUNT, slow=slow)],
            stdout=subprocess.PIPE, text=True, cwd=_ROOT,
            env={**os.environ, "PYTHONPATH": _ROOT})
        try:
            assert node.stdout is not None
            handle = node.stdout.readline().strip()
            assert is_warm_handle(handle), f"the node printed {handle!r}"
            node.send_signal(signal.SIGKILL)  # mid-run, without any goodbye
            node.wait(10)
        finally:
            if node.poll() is None:
                node.kill()
                node.wait()
            if node.stdout is not None:
                node.stdout.close()
        # a run the node recorded but never handed to the starter (it died in between)
        # is not the starter's: the next life starts it instead
        never = tmp_path / "warm" / handle.split(":")[1] / "runs" / "32"
        never.mkdir()
        (never / "record.json").write_text("{}")

        rt = DockerRuntime(name, proxy_socket_dir=tmp_path / "proxy",
                           warm_dir=tmp_path / "warm")
        try:
            managed = {job.run_id: job for job in rt.list_managed()}
            assert set(managed) == {31}, managed
            assert managed[31].handle == handle and managed[31].running
            info = rt.wait(handle, timeout=60)
            assert info is not None and info.exit_code == 0, info
            output = run_paths(tmp_path / "task", 5, 31).output_file
            assert json.loads(output.read_text())["count"] == 1
            rt.remove(handle)
            left = sorted(str(p) for p in (tmp_path / "warm").rglob("*"))
            assert rt.list_managed() == [], left
        finally:
            assert cleanup_node(docker_client, rt) == []
