"""A real server and two node processes (process runtime): federated average, crash recovery.

The server runs in a thread (threaded wsgiref); each node is a ``v6 node start``
subprocess, so a test can SIGKILL it mid-run and start it again.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.live_server import serve_sqlite_server
from v6lib.client import Client
from v6lib.crypto import load_private_key, public_key_b64

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "average"
ALGORITHMS = Path(__file__).resolve().parent / "algorithms"
ROOT_PASSWORD = "Root-password-1"
RESEARCHER_PASSWORD = "Researcher-pw-2"


@dataclass
class Federation:
    port: int
    researcher: Client
    org_ids: list[int]
    collaboration: int
    configs: dict[int, Path]
    workdir: Path
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_node(self, org: int) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(EXAMPLE), str(ALGORITHMS), str(ROOT), env.get("PYTHONPATH", ""))
            if p)
        with (self.workdir / f"node-{org}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from v6lib.cli import main; main()", "node", "start",
                 "--attach", "--config", str(self.configs[org])],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        self.processes[org] = proc
        return proc

    def log_of(self, org: int) -> str:
        return (self.workdir / f"node-{org}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD)


@pytest.fixture(scope="module")
def federation(live_server: int, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Federation]:
    port = live_server
    root = Client("http://127.0.0.1", port, "/api")
    root.authenticate("root", ROOT_PASSWORD)
    ids = [root.organization.create(name=f"Site {s}")["id"] for s in ("A", "B")]
    collab = root.collaboration.create("average", ids)["id"]
    role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Researcher"]
    root.user.create(username="researcher", password=RESEARCHER_PASSWORD, organization=ids[0],
                     roles=role, email="r@example.org")
    researcher = Client("http://127.0.0.1", port, "/api")
    researcher.authenticate("researcher", RESEARCHER_PASSWORD)
    workdir = tmp_path_factory.mktemp("nodes")
    configs = {}
    for org, site in zip(ids, ("a", "b"), strict=True):
        api_key = root.node.create(collaboration=collab, organization=org, name=f"node-{site}")
        configs[org] = _node_config(workdir / f"node-{site}.yaml", site, api_key, port,
                                    workdir)
    fed = Federation(port, researcher, ids, collab, configs, workdir)
    for org in ids:
        fed.start_node(org)
    try:
        yield fed
    finally:
        for proc in fed.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in fed.processes.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def one_node_federation(tmp_path_factory: pytest.TempPathFactory, name: str,
                        **extra: Any) -> Iterator[Federation]:
    """A server with one organization, its researcher and its node (site a's data);
    ``extra`` goes into the node's configuration."""
    for port in serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD):
        root = Client("http://127.0.0.1", port, "/api")
        root.authenticate("root", ROOT_PASSWORD)
        org = root.organization.create(name=f"{name} site")["id"]
        collab = root.collaboration.create(name, [org])["id"]
        role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Researcher"]
        root.user.create(username="researcher", password=RESEARCHER_PASSWORD, organization=org,
                         roles=role, email="r@example.org")
        researcher = Client("http://127.0.0.1", port, "/api")
        researcher.authenticate("researcher", RESEARCHER_PASSWORD)
        workdir = tmp_path_factory.mktemp(f"{name}-node")
        api_key = root.node.create(collaboration=collab, organization=org, name=f"{name}-node")
        configs = {org: _node_config(workdir / "node.yaml", "a", api_key, port, workdir,
                                     **extra)}
        fed = Federation(port, researcher, [org], collab, configs, workdir)
        fed.start_node(org)
        try:
            yield fed
        finally:
            for proc in fed.processes.values():
                proc.send_signal(signal.SIGTERM)
            for proc in fed.processes.values():
                proc.wait(30)


def _node_config(path: Path, site: str, api_key: str, port: int, workdir: Path,
                 **extra: Any) -> Path:
    path.write_text(yaml.safe_dump({
        "name": f"node-{site}", "api_key": api_key, "server_url": "http://127.0.0.1",
        "port": port, "api_path": "/api", "runtime": "process",
        "task_dir": str(workdir / f"task-{site}"),
        "databases": {"default": str(EXAMPLE / "data" / f"site_{site}.csv")},
        "logging": {"level": "INFO"}, **extra,
    }))
    return path


def test_encrypted_federated_average(live_server: int, federation: Federation,
                                     tmp_path: Path) -> None:
    """Sealed inputs and results end to end: client -> node -> proxy -> subtasks -> client."""
    root = Client("http://127.0.0.1", live_server, "/api")
    root.authenticate("root", ROOT_PASSWORD)
    ids = federation.org_ids
    collab = root.collaboration.create("sealed average", ids, encrypted=True)["id"]
    configs = {}
    for org, site in zip(ids, ("a", "b"), strict=True):
        api_key = root.node.create(collaboration=collab, organization=org,
                                   name=f"sealed-{site}")
        configs[org] = _node_config(
            tmp_path / f"sealed-{site}.yaml", site, api_key, live_server, tmp_path,
            encryption={"enabled": True, "private_key": str(tmp_path / f"key-{site}.pem")})
    for org, site in zip(ids, ("a", "b"), strict=True):
        # site a uploads with the CLI, site b's node uploads its key itself at start
        upload = ["--upload"] if site == "a" else []
        subprocess.run(
            [sys.executable, "-c", "from v6lib.cli import main; main()", "node",
             "create-private-key", "--config", str(configs[org]), *upload],
            check=True, capture_output=True, timeout=120)
    key_a = public_key_b64(load_private_key(tmp_path / "key-a.pem"))
    assert root.organization.get(ids[0])["public_key"] == key_a
    assert not root.organization.get(ids[1])["public_key"]
    sealed = Federation(live_server, federation.researcher, ids, collab, configs, tmp_path)
    try:
        for org in ids:
            sealed.start_node(org)
        key_b = public_key_b64(load_private_key(tmp_path / "key-b.pem"))
        deadline = time.monotonic() + 60
        while root.organization.get(ids[1])["public_key"] != key_b:
            assert time.monotonic() < deadline, sealed.log_of(ids[1])[-4000:]
            time.sleep(0.2)
        researcher = Client("http://127.0.0.1", live_server, "/api")
        researcher.authenticate("researcher", RESEARCHER_PASSWORD)
        researcher.setup_encryption(tmp_path / "key-a.pem")
        task = researcher.task.create(
            collaboration=collab, organizations=[ids[0]], name="sealed average",
            image="v6-average:latest",
            input_={"method": "central_average", "kwargs": {"column": "age"}})
        try:
            results = researcher.wait_for_results(task["id"], timeout=120)
        except Exception:
            print(sealed.log_of(ids[0])[-4000:], sealed.log_of(ids[1])[-4000:])
            raise
        ages = pd.concat([pd.read_csv(EXAMPLE / "data" / f"site_{s}.csv")["age"]
                          for s in "ab"])
        assert results[0]["average"] == pytest.approx(float(ages.mean()))
        stored = root.run.from_task(task["id"])
        assert all(base64.b64decode(r["result"])[:4] == b"\x89V6E" for r in stored)
    finally:
        for proc in sealed.processes.values():
            proc.send_signal(signal.SIGTERM)
        for proc in sealed.processes.values():
            proc.wait(30)


def test_federated_average_over_two_nodes(federation: Federation) -> None:
    task = federation.researcher.task.create(
        collaboration=federation.collaboration, organizations=[federation.org_ids[0]],
        name="average", image="v6-average:latest",
        input_={"method": "central_average", "kwargs": {"column": "age"}})
    try:
        results = federation.researcher.wait_for_results(task["id"], timeout=120)
    except Exception:
        print(federation.log_of(federation.org_ids[0])[-4000:])
        print(federation.log_of(federation.org_ids[1])[-4000:])
        raise
    ages = pd.concat([pd.read_csv(EXAMPLE / "data" / f"site_{s}.csv")["age"] for s in "ab"])
    assert len(results) == 1
    assert results[0]["count"] == int(ages.count())
    assert results[0]["average"] == pytest.approx(float(ages.mean()))
    assert results[0]["organizations"] == sorted(federation.org_ids)


def test_sigkill_mid_run_then_restart_delivers_exactly_once(federation: Federation) -> None:
    org = federation.org_ids[0]  # the researcher's organization: its runs are visible
    marker = federation.workdir / "executions.txt"
    task = federation.researcher.task.create(
        collaboration=federation.collaboration, organizations=[org], name="slow",
        image="v6-node-testalgo:latest",
        input_={"method": "sleep_echo",
                "kwargs": {"seconds": 4, "value": "survived", "marker": str(marker)}})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, federation.log_of(org)[-4000:]
        time.sleep(0.1)
    node = federation.processes[org]
    node.send_signal(signal.SIGKILL)  # the node dies; its algorithm keeps running
    node.wait(10)
    federation.start_node(org)
    results = federation.researcher.wait_for_results(task["id"], timeout=120)
    assert results == [{"echo": "survived", "slept": 4}]
    assert marker.read_text().splitlines() == ["started"]  # executed exactly once
    runs = list(federation.researcher.run.from_task(task["id"]))
    assert [r["status"] for r in runs] == ["completed"]
    # a third start must not execute or report anything again
    federation.processes[org].send_signal(signal.SIGTERM)
    federation.processes[org].wait(20)
    federation.start_node(org)
    time.sleep(3)
    assert marker.read_text().splitlines() == ["started"]
    assert [r["status"] for r in federation.researcher.run.from_task(task["id"])] == ["completed"]


def test_kill_stops_the_algorithm_and_it_never_restarts(federation: Federation) -> None:
    org = federation.org_ids[0]
    marker = federation.workdir / "killed-executions.txt"
    task = federation.researcher.task.create(
        collaboration=federation.collaboration, organizations=[org], name="to kill",
        image="v6-node-testalgo:latest",
        input_={"method": "sleep_echo",
                "kwargs": {"seconds": 120, "value": 1, "marker": str(marker)}})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, federation.log_of(org)[-4000:]
        time.sleep(0.1)
    state_dir = federation.workdir / "task-a" / "process-runtime"
    assert list(state_dir.glob("run-*.json")), "no process state for the running algorithm"
    killed_at = time.monotonic()
    federation.researcher.task.kill(task["id"])
    while list(state_dir.glob("run-*.json")):
        assert time.monotonic() - killed_at < 5, federation.log_of(org)[-4000:]
        time.sleep(0.05)
    runs = list(federation.researcher.run.from_task(task["id"]))
    assert [r["status"] for r in runs] == ["killed by user"]
    federation.processes[org].send_signal(signal.SIGTERM)
    federation.processes[org].wait(20)
    federation.start_node(org)
    time.sleep(3)
    assert marker.read_text().splitlines() == ["started"]
    assert [r["status"] for r in federation.researcher.run.from_task(task["id"])] == [
        "killed by user"]
