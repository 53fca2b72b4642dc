"""DockerRuntime against a real engine: contract, mounts, no network, kill, cleanup, limits.

Each run uses the ``v6-probe`` test image, which executes the Python source in its
``V6_PROBE`` variable; the probes below write what they observed to OUTPUT_FILE.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from v6lib.errors import NotFoundError, RuntimeUnavailableError
from v6lib.node.run_files import prepare_run_files, run_paths
from v6lib.node.runtime.base import (
    LABEL_JOB,
    LABEL_NODE,
    LABEL_RUN,
    LABEL_TASK,
    ContainerRuntime,
    JobDatabase,
    JobSpec,
)
from v6lib.node.runtime.docker import LOG_LIMIT, DockerRuntime

# NOTE: makes ``tests.docker_support`` importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.docker_support import (  # noqa: E402
    PROBE_IMAGE,
    PYTHON_IMAGE,
    cleanup_node,
    docker_client,
    fake_proxy_socket,
    http_server,
    outside_host_ip,
    unique_node_name,
)

pytestmark = pytest.mark.docker
__all__ = ["docker_client"]  # the session fixture, re-exported for pytest

PRELUDE = textwrap.dedent("""
    import json, os, socket, threading, urllib.request
    def tcp(host, port, timeout=1.5):
        s = socket.socket(); s.settimeout(timeout)
        try:
            s.connect((host, port)); return "connected"
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            return "failed: " + (exc.strerror or type(exc).__name__)
        finally:
            s.close()
    def http(url):
        try:
            return urllib.request.urlopen(url, timeout=3).read().decode()
        except Exception as exc:
            return "failed: " + repr(exc)
    def dns(name, wait=4.0):
        box = ["failed: no answer within %ss" % wait]
        def look():
            try:
                box[0] = socket.gethostbyname(name)
            except OSError as exc:
                box[0] = "failed: " + str(exc)
        t = threading.Thread(target=look, daemon=True); t.start(); t.join(wait)
        return box[0]
    def via_proxy_socket(path):
        u = socket.socket(socket.AF_UNIX); u.settimeout(3)
        try:
            u.connect(os.environ["PROXY_SOCKET"])
            u.sendall(f"GET {path} HTTP/1.0\\r\\nHost: proxy\\r\\n\\r\\n".encode())
            answer = b""
            while chunk := u.recv(4096):
                answer += chunk
            return answer.split(b"\\r\\n\\r\\n", 1)[-1].decode()
        except OSError as exc:
            return "failed: " + str(exc)
        finally:
            u.close()
    def done(result):
        with open(os.environ["OUTPUT_FILE"], "w") as fh:
            json.dump(result, fh)
""")


def probe(code: str) -> str:
    return PRELUDE + textwrap.dedent(code)


@pytest.fixture(scope="module")
def runtime(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    socket_dir = tmp_path_factory.mktemp("proxy")
    rt = DockerRuntime(unique_node_name("rt"), check_image=PYTHON_IMAGE,
                       proxy_socket_dir=socket_dir)
    with fake_proxy_socket(rt.proxy_socket()):
        yield rt
    assert cleanup_node(docker_client, rt) == []


def make_spec(tmp_path: Path, runtime: DockerRuntime, code: str, *, run_id: int = 1,
              image: str = PROBE_IMAGE, databases: tuple[JobDatabase, ...] = (),
              proxy_port: int = 9, **extra: Any) -> JobSpec:
    paths = run_paths(tmp_path, 7, run_id)  # laid out as the node lays out a run
    prepare_run_files(paths, b'{"method": "probe"}', "secret-token")
    return JobSpec(
        node_name=runtime.node_name, run_id=run_id, task_id=70 + run_id, job_id=7,
        image=image, input_file=paths.input_file, output_file=paths.output_file,
        token_file=paths.token_file, temporary_folder=paths.temporary_folder,
        databases=databases, proxy_port=proxy_port, environment={"V6_PROBE": code}, **extra,
    )


def run_to_end(runtime: DockerRuntime, spec: JobSpec, timeout: float = 60) -> dict[str, Any]:
    handle = runtime.start(spec)
    try:
        info = runtime.wait(handle, timeout=timeout)
        assert info is not None, "the probe container did not finish in time"
        assert info.exit_code == 0, f"probe failed ({info.exit_code}):\n{info.logs}"
        return json.loads(spec.output_file.read_text())
    finally:
        runtime.remove(handle)


def test_runtime_satisfies_protocol_and_verifies(runtime: DockerRuntime,
                                                 docker_client: Any) -> None:
    assert isinstance(runtime, ContainerRuntime)
    assert runtime.isolated is True
    runtime.verify()
    report = runtime.check_isolation()
    assert report.leaks == [] and report.results["proxy socket"] == "ok"
    assert runtime.proxy_socket() == runtime.proxy_socket_dir / "proxy.sock"


def test_run_sees_contract_environment_and_writes_output(tmp_path: Path,
                                                         runtime: DockerRuntime) -> None:
    data = tmp_path / "site.csv"
    data.write_text("age\n30\n40\n")
    spec = make_spec(tmp_path, runtime, probe("""
        env = {k: v for k, v in os.environ.items()}
        done({"env": env, "uid": os.getuid(), "input": open(env["INPUT_FILE"]).read(),
              "token": open(env["TOKEN_FILE"]).read(),
              "data": open(env["SITE_DATABASE_URI"]).read()})
    """), databases=(JobDatabase("site", str(data), "csv"),
                     JobDatabase("remote", "postgresql://db.example/x", "sql", query="q")),
        proxy_port=5123)
    out = run_to_end(runtime, spec)
    env = out["env"]
    assert env["INPUT_FILE"] == "/mnt/input" and out["input"] == '{"method": "probe"}'
    assert env["TOKEN_FILE"] == "/mnt/token" and out["token"] == "secret-token"
    assert env["OUTPUT_FILE"] == "/mnt/output/output"
    assert env["TEMPORARY_FOLDER"] == "/mnt/tmp"
    assert env["HOST"] == "http://127.0.0.1" and env["PORT"] == "5123"
    assert env["PROXY_SOCKET"] == "/mnt/proxy/proxy.sock"
    assert env["API_PATH"] == "/api"
    assert env["USER_REQUESTED_DATABASE_LABELS"] == "site,remote"
    assert env["SITE_DATABASE_URI"] == "/mnt/data/site/site.csv" and out["data"] == "age\n30\n40\n"
    assert env["SITE_DATABASE_TYPE"] == "csv"
    # a network database: reached through the run's relay (tests/node/runtime/
    # test_docker_network_databases.py connects through it)
    assert env["REMOTE_DATABASE_URI"] == "postgresql://127.0.0.1:16001/x"
    assert env["V6_RELAYS"] == "16001=/mnt/relays/0.sock"
    assert env["REMOTE_QUERY"] == "q"
    assert out["uid"] != 0


def test_the_writable_mount_holds_only_the_runs_output(tmp_path: Path,
                                                       runtime: DockerRuntime) -> None:
    spec = make_spec(tmp_path, runtime, probe("""
        out = {"listing": sorted(os.listdir(os.path.dirname(os.environ["OUTPUT_FILE"])))}
        try:
            os.link(os.environ["INPUT_FILE"], "/mnt/output/input-link")
            out["link_input"] = "linked"
        except OSError as exc:
            out["link_input"] = exc.strerror
        done(out)
    """))
    out = run_to_end(runtime, spec)
    assert out["listing"] == []  # neither the input nor the token is there to swap
    assert out["link_input"] == "Invalid cross-device link"
    assert spec.output_file.stat().st_uid == runtime.output_owner() != 0


def test_data_is_read_only_and_host_files_stay_invisible(tmp_path: Path,
                                                        runtime: DockerRuntime) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "site.csv").write_text("x\n1\n")
    (data_dir / "site.csv").chmod(0o666)  # only the read-only mount may stop the write
    (data_dir / "other_org_secret.csv").write_text("do not read")
    spec = make_spec(tmp_path, runtime, probe("""
        out = {}
        path = os.environ["SITE_DATABASE_URI"]
        try:
            open(path, "a").write("tampered"); out["write_data"] = "written"
        except OSError as exc:
            out["write_data"] = exc.strerror
        try:
            open("/var/tmp/evil", "w").write("x"); out["write_root"] = "written"
        except OSError as exc:
            out["write_root"] = exc.strerror
        out["siblings"] = os.listdir(os.path.dirname(path))
        out["secret_visible"] = any("other_org_secret" in f
                                    for _, _, fs in os.walk("/mnt") for f in fs)
        open("/tmp/scratch", "w").write("tmp is writable")
        open(os.path.join(os.environ["TEMPORARY_FOLDER"], "shared"), "w").write("kept")
        done(out)
    """), databases=(JobDatabase("site", str(data_dir / "site.csv"), "csv"),))
    out = run_to_end(runtime, spec)
    assert out["write_data"] == "Read-only file system"
    assert out["write_root"] == "Read-only file system"
    assert out["siblings"] == ["site.csv"]
    assert out["secret_visible"] is False
    assert (data_dir / "site.csv").read_text() == "x\n1\n"
    assert (spec.temporary_folder / "shared").read_text() == "kept"


def test_only_the_proxy_socket_is_reachable(tmp_path: Path, runtime: DockerRuntime,
                                            docker_client: Any) -> None:
    host_ip = outside_host_ip()
    with http_server(host_ip) as (_, host_port), http_server("172.17.0.1") as (_, bridge_port):
        targets = {"host_ip": f"http://{host_ip}:{host_port}/",
                   "docker0_gateway": f"http://172.17.0.1:{bridge_port}/"}
        code = probe(f"""
            targets = {targets!r}
            out = {{name: http(url) for name, url in targets.items()}}
            out["proxy"] = via_proxy_socket("/api/version")
            # the launcher's relay: HOST:PORT in an image without any v6lib wrapper
            out["proxy_port"] = http(os.environ.get("HOST", "http://127.0.0.1") + ":"
                                     + os.environ.get("PORT", "9") + "/api/version")
            out["public_ip"] = tcp("1.1.1.1", 443)
            out["dns"] = dns("example.com")
            out["interfaces"] = sorted(os.listdir("/sys/class/net"))
            done(out)
        """)
        out = run_to_end(runtime, make_spec(tmp_path, runtime, code))
        # Positive control: the same probe on Docker's default bridge reaches the host.
        control = docker_client.containers.run(
            PROBE_IMAGE, ["python3", "-c", code.replace(
                'done(out)', 'print(json.dumps(out))')], remove=True,
            environment={"OUTPUT_FILE": "/dev/null", "PROXY_SOCKET": "/nonexistent"})
    assert out["proxy"] == out["proxy_port"] == "hello from the proxy"
    assert out["interfaces"] == ["lo"]
    assert out["host_ip"].startswith("failed")
    assert out["docker0_gateway"].startswith("failed")
    assert out["public_ip"].startswith("failed")
    assert out["dns"].startswith("failed")
    assert json.loads(control)["host_ip"] == "hello from the host"


NO_PYTHON_IMAGE = "v6-no-python:test"


def test_an_image_without_python_fails_to_start_with_the_reason(
        tmp_path: Path, runtime: DockerRuntime, docker_client: Any) -> None:
    docker_client.images.build(fileobj=io.BytesIO(b'FROM scratch\nCMD ["/algorithm"]\n'),
                               tag=NO_PYTHON_IMAGE, rm=True)
    spec = make_spec(tmp_path, runtime, "", image=NO_PYTHON_IMAGE)
    with pytest.raises(RuntimeUnavailableError, match="has no python3 on its PATH"):
        runtime.start(spec)
    assert docker_client.api.containers(
        all=True, filters={"label": f"{LABEL_NODE}={runtime.node_name}"}) == []


class _NetworkedRuntime(DockerRuntime):
    """A misconfigured runtime (containers on Docker's default bridge), for the self-check."""

    def _confinement(self) -> dict[str, Any]:
        return {**super()._confinement(), "network_mode": "bridge"}


def test_isolation_check_detects_a_reachable_network(docker_client: Any, tmp_path: Path) -> None:
    rt = _NetworkedRuntime(unique_node_name("open"), check_image=PYTHON_IMAGE,
                           proxy_socket_dir=tmp_path)
    try:
        with fake_proxy_socket(rt.proxy_socket()), \
                pytest.raises(RuntimeUnavailableError, match="isolation check failed") as err:
            rt.check_isolation()
        assert "reached" in err.value.message and "interface eth0" in err.value.details["reached"]
    finally:
        assert cleanup_node(docker_client, rt) == []


def test_isolation_check_needs_a_listening_proxy(docker_client: Any, tmp_path: Path) -> None:
    rt = DockerRuntime(unique_node_name("noproxy"), check_image=PYTHON_IMAGE,
                       proxy_socket_dir=tmp_path)
    try:
        with pytest.raises(RuntimeUnavailableError, match="proxy must be running"):
            rt.verify()
        with fake_proxy_socket(rt.proxy_socket()) as server:
            server.shutdown()
            server.server_close()  # the socket file stays, nobody listens
            with pytest.raises(RuntimeUnavailableError, match="cannot reach the node proxy"):
                rt.check_isolation()
    finally:
        assert cleanup_node(docker_client, rt) == []


def test_kill_stops_a_run_within_a_second(tmp_path: Path, runtime: DockerRuntime) -> None:
    spec = make_spec(tmp_path, runtime, "import time; print('started', flush=True); "
                                        "time.sleep(120)", run_id=2)
    handle = runtime.start(spec)
    try:
        assert runtime.wait(handle, timeout=0.5) is None
        began = time.monotonic()
        runtime.kill(handle)
        info = runtime.wait(handle, timeout=5)
        elapsed = time.monotonic() - began
        assert info is not None and info.exit_code == 137
        assert elapsed < 1.0, f"kill took {elapsed:.2f}s"
        assert "started" in info.logs
        runtime.kill(handle)  # already ended: no error
    finally:
        runtime.remove(handle)


def test_logs_keep_only_the_tail(tmp_path: Path, runtime: DockerRuntime) -> None:
    # NOTE: the engine does not keep the order *between* stdout and stderr, so the
    # stderr line is written only after stdout was flushed and had time to be stored.
    spec = make_spec(tmp_path, runtime, "import sys, time\nfor i in range(4000):\n"
                                        "    print(f'line {i:05d} ' + 'x' * 60)\n"
                                        "sys.stdout.flush()\ntime.sleep(0.5)\n"
                                        "print('the end', file=sys.stderr)", run_id=3)
    handle = runtime.start(spec)
    try:
        info = runtime.wait(handle, timeout=60)
        assert info is not None and info.exit_code == 0
        assert info.logs.startswith("[... ") and "truncated" in info.logs.splitlines()[0]
        body = info.logs.split("\n", 1)[1]
        assert len(body.encode()) <= LOG_LIMIT
        assert "line 03999" in body and "the end" in body and "line 00000" not in body
    finally:
        runtime.remove(handle)


def test_remove_leaves_no_container_or_volume(tmp_path: Path, runtime: DockerRuntime,
                                              docker_client: Any) -> None:
    dockerfile = io.BytesIO(f"FROM {PROBE_IMAGE}\nVOLUME /scratch\n".encode())
    image, _ = docker_client.images.build(fileobj=dockerfile, tag="v6-probe-volume:test",
                                           rm=True, forcerm=True)
    volumes_before = {v.name for v in docker_client.volumes.list()}
    spec = make_spec(tmp_path, runtime, "print('bye')", run_id=4, image="v6-probe-volume:test")
    handle = runtime.start(spec)
    try:
        assert runtime.wait(handle, timeout=60) is not None
        mounts = docker_client.api.inspect_container(handle)["Mounts"]
        assert any(m["Type"] == "volume" for m in mounts)
    finally:
        runtime.remove(handle)
    runtime.remove(handle)  # idempotent
    with pytest.raises(NotFoundError):
        runtime.wait(handle, timeout=1)
    assert {v.name for v in docker_client.volumes.list()} == volumes_before
    assert all(job.handle != handle for job in runtime.list_managed())
    docker_client.images.remove(image.id, force=True)


def test_a_new_instance_finds_running_runs(tmp_path: Path, runtime: DockerRuntime) -> None:
    spec = make_spec(tmp_path, runtime, "import time; time.sleep(120)", run_id=5)
    handle = runtime.start(spec)
    try:
        reborn = DockerRuntime(runtime.node_name, check_image=PYTHON_IMAGE)
        jobs = {job.handle: job for job in reborn.list_managed()}
        assert jobs[handle].run_id == 5 and jobs[handle].running is True
        stranger = DockerRuntime(unique_node_name("other"), check_image=PYTHON_IMAGE)
        assert stranger.list_managed() == []
        reborn.kill(handle)
        assert reborn.wait(handle, timeout=5) is not None
        assert {j.handle: j for j in reborn.list_managed()}[handle].running is False
    finally:
        runtime.remove(handle)


def test_missing_image_is_a_not_found_error(tmp_path: Path, runtime: DockerRuntime) -> None:
    spec = make_spec(tmp_path, runtime, "", run_id=6, image="v6-no-such-image:1.0")
    with pytest.raises(NotFoundError, match="not present on node"):
        runtime.start(spec)
    assert all(job.run_id != 6 for job in runtime.list_managed())


def test_failed_pull_from_a_configured_registry_is_a_not_found_error(
        tmp_path: Path, docker_client: Any) -> None:
    rt = DockerRuntime(unique_node_name("pull"), check_image=PYTHON_IMAGE,
                       registries=[{"registry": "registry.invalid:5000", "username": "u",
                                    "password": "p"}])
    spec = make_spec(tmp_path, rt, "", image="registry.invalid:5000/algo:1.0")
    try:
        with pytest.raises(NotFoundError, match=r"pulling it from 'registry\.invalid:5000'"):
            rt.start(spec)
    finally:
        assert cleanup_node(docker_client, rt) == []


def test_limits_and_privileges_are_applied(tmp_path: Path, runtime: DockerRuntime,
                                           docker_client: Any) -> None:
    spec = make_spec(tmp_path, runtime, "import time; time.sleep(30)", run_id=8, cpus=0.5,
                     memory="128m")
    handle = runtime.start(spec)
    try:
        attrs = docker_client.api.inspect_container(handle)
        host = attrs["HostConfig"]
        assert host["NanoCpus"] == 500_000_000
        assert host["Memory"] == 128 * 1024 * 1024 == host["MemorySwap"]
        assert host["PidsLimit"] == runtime.pids_limit
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
        assert host["NetworkMode"] == "none"
        assert list(attrs["NetworkSettings"]["Networks"]) == ["none"]
        proxy_mount = next(m for m in attrs["Mounts"] if m["Destination"] == "/mnt/proxy")
        assert proxy_mount["RW"] is False
        assert proxy_mount["Source"] == str(runtime.proxy_socket_dir.resolve())
        assert attrs["Config"]["User"] == runtime.user
        labels = attrs["Config"]["Labels"]
        assert labels[LABEL_NODE] == runtime.node_name and labels[LABEL_RUN] == "8"
        assert labels[LABEL_TASK] == "78" and labels[LABEL_JOB] == "7"
    finally:
        runtime.kill(handle)
        runtime.remove(handle)


def test_close_leaves_running_runs_and_cleanup_leaves_nothing(tmp_path: Path,
                                                             docker_client: Any) -> None:
    rt = DockerRuntime(unique_node_name("clean"), check_image=PYTHON_IMAGE,
                       proxy_socket_dir=tmp_path / "proxy")
    with fake_proxy_socket(rt.proxy_socket()):
        handle = rt.start(make_spec(tmp_path, rt, "import time; time.sleep(60)"))
    # A node that stops while a run lives on leaves it for its next life to reconcile.
    rt.close()
    assert [job.handle for job in rt.list_managed()] == [handle]
    rt.kill(handle)
    rt.remove(handle)
    rt.close()
    assert docker_client.containers.list(all=True,
                                         filters={"label": f"{LABEL_NODE}={rt.node_name}"}) == []


def test_unreachable_engine_is_runtime_unavailable() -> None:
    import docker

    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    with pytest.raises(RuntimeUnavailableError, match="Docker engine"):
        DockerRuntime("nowhere", client=client).verify()
