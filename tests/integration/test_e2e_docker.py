"""End to end with Docker: a real server, three node daemons, algorithms in containers.

The server runs in a thread on 127.0.0.1; each node is a real :class:`Node` with the
:class:`DockerRuntime` (containers without a network) and its proxy. Besides the
example image ``v6-average``, the test image ``v6-probe`` runs the script the nodes give
it in ``V6_PROBE`` (their ``algorithm_env``): it sleeps, or tries to escape, depending
on the method named in the task input.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.live_server import serve_sqlite_server
from v6lib.client import Client
from v6lib.node.daemon import Node
from v6lib.node.options import NodeOptions
from v6lib.node.runtime.base import LABEL_RUN, JobDatabase
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.node.runtime.docker_warm import is_warm_handle
from v6lib.rules.disclosure import DisclosurePolicy, DisclosureRules
from v6lib.schemas.run_status import RunStatus

# NOTE: makes ``tests.docker_support`` importable however pytest was started.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.docker_support import (  # noqa: E402
    AVERAGE_IMAGE,
    BASE_IMAGE,
    PROBE_IMAGE,
    cleanup_node,
    docker_client,
    http_server,
    outside_host_ip,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
__all__ = ["docker_client"]  # the session fixture, re-exported for pytest

ROOT_PASSWORD = "Root-password-1"
ADMIN_PASSWORD = "E2e-admin-pass-1!"
DATA = _ROOT / "examples" / "average" / "data"
SITES = ("site_a.csv", "site_b.csv", "site_c.csv")
DISCLOSURE = DisclosureRules(DisclosurePolicy(min_cell_count=5, refuse_row_level=True))

# What the v6-probe containers run (given to them by the nodes' algorithm_env).
PROBE = r"""
import json, os, socket, threading, time, urllib.request
task = json.load(open(os.environ["INPUT_FILE"]))
def tcp(host, port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, int(port))); return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return "failed: " + (exc.strerror or type(exc).__name__)
    finally:
        s.close()
def dns(name):
    box = ["failed: no answer"]
    def look():
        try: box[0] = socket.gethostbyname(name)
        except OSError as exc: box[0] = "failed: " + str(exc)
    t = threading.Thread(target=look, daemon=True); t.start(); t.join(4)
    return box[0]
def proxy_version():
    # speak HTTP on the proxy's socket itself (PROXY_SOCKET), as some images do
    token = open(os.environ["TOKEN_FILE"]).read().strip()
    request = ("GET %s/version HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n"
               % (os.environ["API_PATH"], token))
    u = socket.socket(socket.AF_UNIX); u.settimeout(5)
    try:
        u.connect(os.environ["PROXY_SOCKET"]); u.sendall(request.encode())
        answer = b""
        while chunk := u.recv(65536): answer += chunk
        return json.loads(answer.split(b"\r\n\r\n", 1)[1]).get("version", "?")
    except Exception as exc:
        return "failed: " + repr(exc)
    finally:
        u.close()
out = {}
if task.get("method") == "sleep":
    print("sleeping", flush=True); time.sleep(600)
elif task.get("method") == "emit":
    out = json.loads(task["kwargs"]["json"])  # any output, as a hostile algorithm writes it
elif task.get("method") == "escape":
    kw = task.get("kwargs", {})
    out = {"proxy": proxy_version(), "public_ip": tcp("1.1.1.1", 443),
           "dns": dns("pypi.org"), "host": tcp(kw["host"], kw["port"]),
           "host_ssh": tcp(kw["host"], 22), "docker0": tcp("172.17.0.1", 22),
           "interfaces": sorted(os.listdir("/sys/class/net")),
           "node_journal_visible": os.path.exists(kw["journal"])}
json.dump(out, open(os.environ["OUTPUT_FILE"], "w"))
"""


@dataclass
class Federation:
    root: Client
    collaboration: int
    org_ids: list[int]
    nodes: list[Node]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from serve_sqlite_server(tmp_path_factory, ROOT_PASSWORD)


@pytest.fixture(scope="module")
def federation(live_server: int, docker_client: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    for image in (AVERAGE_IMAGE, BASE_IMAGE):
        docker_client.images.get(image)  # fails loudly when .ci/images.sh did not run
    root = Client("http://127.0.0.1", live_server, "/api")
    root.authenticate("root", ROOT_PASSWORD)
    suffix = uuid.uuid4().hex[:6]
    orgs = [root.organization.create(name=f"Docker org {i} {suffix}")["id"] for i in range(3)]
    collab = root.collaboration.create(f"docker {suffix}", orgs)["id"]
    # Tasks must come from a member organization: an administrator (Root role) in the
    # first organization creates them; root's own organization is not a member.
    root_role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Root"]
    root.user.create(username=f"e2e-admin-{suffix}", password=ADMIN_PASSWORD,
                     organization=orgs[0], roles=root_role)
    admin = Client("http://127.0.0.1", live_server, "/api")
    admin.authenticate(f"e2e-admin-{suffix}", ADMIN_PASSWORD)
    nodes: list[Node] = []
    threads: list[threading.Thread] = []
    try:
        for org, site in zip(orgs, SITES, strict=True):
            name = f"e2e-{org}-{suffix}"
            options = NodeOptions(
                name=name,
                api_key=root.node.create(collaboration=collab, organization=org, name=name),
                server_api_url=f"http://127.0.0.1:{live_server}/api",
                task_dir=tmp_path_factory.mktemp(name),
                databases={"default": JobDatabase("default", str(DATA / site), "csv")},
                allowed_images=(AVERAGE_IMAGE, PROBE_IMAGE),
                disclosure=DISCLOSURE,
                algorithm_env={"V6_PROBE": PROBE},
                event_timeout=5.0,
            )
            # warm containers as a node's config sets them up: the central average's
            # partial runs (subtasks) are forked in them, through the whole daemon
            node = Node(options, runtime=DockerRuntime(name, check_image=BASE_IMAGE,
                                                       warm_dir=options.task_dir / "warm"))
            node.start()
            nodes.append(node)
            thread = threading.Thread(target=node.run_forever, daemon=True, name=name)
            thread.start()
            threads.append(thread)
        yield Federation(admin, collab, orgs, nodes)
    finally:
        for node in nodes:
            node.stop()
        for node, thread in zip(nodes, threads, strict=False):
            thread.join(10)
            node.close()
        leftovers = [cleanup_node(docker_client, node.runtime) for node in nodes]
        assert leftovers == [[] for _ in nodes]


def _runs(fed: Federation, task_id: int) -> list[dict[str, Any]]:
    return fed.root.run.from_task(task_id)


def _wait_status(fed: Federation, task_id: int, wanted: set[str], timeout: float) -> float:
    """Seconds until every run of the task has one of the ``wanted`` statuses."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        runs = _runs(fed, task_id)
        if runs and all(r["status"] in wanted for r in runs):
            return time.monotonic() - began
        time.sleep(0.1)
    raise AssertionError(f"task {task_id}: runs {[r['status'] for r in _runs(fed, task_id)]}"
                         f" did not reach {wanted} within {timeout}s")


def _ages() -> pd.Series:
    return pd.concat([pd.read_csv(DATA / site)["age"] for site in SITES])


def test_partial_averages_run_on_three_docker_nodes(federation: Federation) -> None:
    fed = federation
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name="partials",
        image=AVERAGE_IMAGE, input_={"method": "partial_average", "kwargs": {"column": "age"}})
    partials = fed.root.wait_for_results(task["id"], timeout=120)
    total = sum(p["sum"] for p in partials)
    count = sum(p["count"] for p in partials)
    assert count == int(_ages().count())
    assert total / count == pytest.approx(float(_ages().mean()))


def test_central_average_fans_out_over_docker_nodes(federation: Federation) -> None:
    fed = federation
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=[fed.org_ids[0]], name="average",
        image=AVERAGE_IMAGE, input_={"method": "central_average", "kwargs": {"column": "age"}})
    (result,) = fed.root.wait_for_results(task["id"], timeout=120)
    assert result["average"] == pytest.approx(float(_ages().mean()))
    assert result["count"] == int(_ages().count())
    assert result["organizations"] == sorted(fed.org_ids)
    # the partial runs (a subtask's) ran in warm containers, not in containers of their own
    (subtask,) = fed.root.transport.iter_pages("/task", params={"parent_id": task["id"]})
    for node, org in zip(fed.nodes, fed.org_ids, strict=True):
        assert node.executor is not None
        (run,) = [r for r in fed.root.run.from_task(subtask["id"])
                  if r["organization_id"] == org]
        entry = node.executor.journal.get(run["id"])
        assert entry is not None and is_warm_handle(entry.handle or ""), entry


def test_image_not_on_the_allow_list_is_refused(federation: Federation,
                                                docker_client: Any) -> None:
    fed = federation
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name="refused",
        image=BASE_IMAGE, input_={"method": "anything"})
    outcomes = fed.root.wait_for_results(task["id"], timeout=60, raise_on_failure=False)
    assert [o.status for o in outcomes] == [RunStatus.NOT_ALLOWED] * 3
    for outcome in outcomes:
        assert "not in allowed_images" in (outcome.reason or outcome.log or "")
    run_ids = {str(o.run_id) for o in outcomes}
    started = [c["Id"] for c in docker_client.api.containers(all=True,
                                                            filters={"label": LABEL_RUN})
               if c["Labels"].get(LABEL_RUN) in run_ids]
    assert started == []


def test_an_algorithm_reaches_only_the_proxy(federation: Federation) -> None:
    fed = federation
    host_ip = outside_host_ip()
    with http_server(host_ip) as (_, port):
        task = fed.root.task.create(
            collaboration=fed.collaboration, organizations=[fed.org_ids[1]], name="escape",
            image=PROBE_IMAGE,
            input_={"method": "escape", "kwargs": {
                "host": host_ip, "port": port,
                "journal": str(fed.nodes[1].options.journal_path)}})
        (result,) = fed.root.wait_for_results(task["id"], timeout=120)
    assert not str(result["proxy"]).startswith("failed"), result
    assert result["interfaces"] == ["lo"]
    for key in ("public_ip", "dns", "host", "host_ssh", "docker0"):
        assert str(result[key]).startswith("failed"), (key, result)
    assert result["node_journal_visible"] is False
    assert fed.nodes[1].options.journal_path.exists()


def test_kill_stops_running_containers_within_seconds(federation: Federation,
                                                      docker_client: Any) -> None:
    fed = federation
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name="sleeper",
        image=PROBE_IMAGE, input_={"method": "sleep"})
    _wait_status(fed, task["id"], {RunStatus.ACTIVE.value}, timeout=90)
    run_ids = {str(r["id"]) for r in _runs(fed, task["id"])}
    began = time.monotonic()
    fed.root.task.kill(task["id"])
    deadline = began + 5
    while time.monotonic() < deadline:
        # The raw listing: containers.list() would inspect ones being removed meanwhile.
        running = [c["Id"] for c in docker_client.api.containers(filters={"label": LABEL_RUN})
                   if c["Labels"].get(LABEL_RUN) in run_ids]
        if not running:
            break
        time.sleep(0.1)
    stopped_after = time.monotonic() - began
    assert not running, f"containers still running {stopped_after:.1f}s after the kill"
    _wait_status(fed, task["id"], {RunStatus.KILLED.value}, timeout=10)


def test_a_tasks_time_limit_ends_its_containers(federation: Federation,
                                                docker_client: Any) -> None:
    """The researcher's limit (shorter than the nodes', which have none) ends each run."""
    fed = federation
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name="slow",
        image=PROBE_IMAGE, input_={"method": "sleep"}, max_run_seconds=2)
    assert task["max_run_seconds"] == 2
    _wait_status(fed, task["id"], {RunStatus.FAILED.value}, timeout=90)
    assert {r["reason"] for r in _runs(fed, task["id"])} == {
        "run exceeded the task's time limit of 2 s"}
    run_ids = {str(r["id"]) for r in _runs(fed, task["id"])}

    def left() -> list[str]:  # the outcome is reported first, the container goes next
        return [c["Id"] for c in docker_client.api.containers(
            all=True, filters={"label": LABEL_RUN}) if c["Labels"].get(LABEL_RUN) in run_ids]

    deadline = time.monotonic() + 15
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left() == []


def test_a_containers_small_count_is_refused_at_its_node(federation: Federation) -> None:
    from v6lib.node.audit import entries

    fed = federation
    org = fed.org_ids[0]

    def emit(value: str) -> list[Any]:
        task = fed.root.task.create(
            collaboration=fed.collaboration, organizations=[org], name="emit",
            image=PROBE_IMAGE, input_={"method": "emit", "kwargs": {"json": value}})
        return fed.root.wait_for_results(task["id"], timeout=120, raise_on_failure=False)

    (refused,) = emit('{"cases": {"__v6__": "v6lib.count", "n": 2}}')
    assert refused.status is RunStatus.NOT_ALLOWED and refused.result is None
    assert refused.reason == "refused by min_cell_count=5 at result['cases'] (count = 2)"
    (passed,) = emit('{"cases": {"__v6__": "v6lib.count", "n": 7}}')
    assert passed.status is RunStatus.COMPLETED and passed.result["cases"].n == 7
    trail = entries(fed.nodes[0].options.audit_path)
    assert trail[-2]["decisions"][-1] == {"check": "disclosure", "allowed": False,
                                          "reason": refused.reason}
    assert trail[-1]["status"] == "completed" and trail[-1]["output_sha256"]
