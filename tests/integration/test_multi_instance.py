"""Two server instances on one PostgreSQL behind nginx with TLS, as docs/server-admin.md
shows them.

Two ``v6 server start`` processes (one gunicorn worker each) share one PostgreSQL
database and the token signing key (a key file the first instance creates and the
second gets a copy of). Debian's nginx, on the configuration the documentation shows
(:mod:`tests.reverse_proxy`), terminates TLS with a self-signed certificate and spreads
requests over both. Three real node daemons (``v6 node start``, process runtime) trust
that certificate through ``server_ca_file``: node 0 goes through nginx, node 1 straight
to instance A, node 2 straight to instance B. The nodes long-poll for 50 s and sweep
only every 5 minutes, so a task they pick up within seconds was announced by an event.

Checked: a token of one instance works at the other; the login throttle counts an
address across instances and believes ``X-Forwarded-For`` from nginx only; events cross
instances both ways (a node at B runs a task created at A; a researcher waiting at A is
woken by the result posted at B); then, while a researcher keeps tasks going through
nginx, instance A is SIGKILLed (master and workers) and later started again: every task
completes, every run executes exactly once (the chaos suite's checks), work goes on at B
meanwhile, and the waits and nodes that were on A reconnect.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.chaos.checks import Tally, check_outcome
from tests.chaos.server_process import ServerProcess
from tests.chaos.workload import Researcher
from tests.integration.conftest import (
    ADMIN_PASSWORD,
    SCENARIO_IMAGE,
    CliNode,
    Federation,
    checkout_env,
    cli_node_config,
    free_port,
    make_federation,
    marker_lines,
    wait_until,
)
from tests.postgres import drop_database, fresh_postgres_url
from tests.processes import wait_gone
from tests.reverse_proxy import PROXY_ADDRESS, Nginx
from v6lib import errors
from v6lib.client import Client

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

EVENT_TIMEOUT = 50
"""The nodes' long-poll: far longer than any wake-up this module accepts."""
PROMPT = 15.0
"""Seconds within which an event must have reached its waiter (an algorithm run takes
0.5 s; without the wake-up it would take ``EVENT_TIMEOUT``)."""


@dataclass
class Deployment:
    """Everything the module's tests share; ``a`` is the instance that gets killed."""

    a: ServerProcess
    b: ServerProcess
    nginx: Nginx
    fed: Federation
    nodes: list[CliNode]
    folder: Path

    def admin(self, via: ServerProcess | Nginx) -> Client:
        client = _client(via)
        client.authenticate(self.fed.admin, ADMIN_PASSWORD)
        return client


def _client(via: ServerProcess | Nginx) -> Client:
    """A client (not logged in) at one instance directly, or through nginx."""
    if isinstance(via, Nginx):
        return Client(via.url, None, "/api", ca_file=via.ca_file, trust_file=None)
    return Client("http://127.0.0.1", via.port, "/api", trust_file=None)


def _instance(folder: Path, uri: str, env: dict[str, str], **settings: object
              ) -> ServerProcess:
    # NOTE: no jwt_secret_key: the instances share the key file, as documented. The
    # long first wait keeps the throttle check independent of how slow argon2 runs.
    return ServerProcess(folder, uri, env, workers=1, name="v6",
                         settings={"jwt_secret_key": None, "login_backoff_seconds": 120,
                                   "trusted_proxies": [PROXY_ADDRESS], **settings})


def _start_nodes(fed: Federation, folder: Path, scenario_package: Path,
                 urls: list[str], ca_file: Path) -> list[CliNode]:
    nodes = []
    for index, url in enumerate(urls):
        config = cli_node_config(fed, index, folder / f"node{index}",
                                 scenario_package=scenario_package, server_url=url,
                                 server_ca_file=str(ca_file), event_timeout=EVENT_TIMEOUT,
                                 sweep_interval=300, process_preload=[])
        nodes.append(CliNode(config, folder / f"node{index}.yaml").start())
    return nodes


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory,
               scenario_package: Path) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("multi-instance")
    uri = fresh_postgres_url()
    env = checkout_env()
    a = _instance(folder / "a", uri, env)
    started: list[ServerProcess | Nginx | CliNode] = []
    try:
        started.append(a.start())
        key = a.data_dir / "jwt_secret.key"
        shared_key = folder / "b" / "jwt_secret.key"
        shared_key.parent.mkdir(parents=True)
        shutil.copy2(key, shared_key)
        b = _instance(folder / "b", uri, env, jwt_secret_file=str(shared_key))
        started.append(b.start())
        nginx = Nginx(folder / "nginx", free_port(), (a.port, b.port))
        started.append(nginx.start())
        fed = make_federation(a, prefix="multi",  # type: ignore[arg-type]
                              connect=lambda: _client(nginx))
        nodes = _start_nodes(fed, folder, scenario_package,
                             [nginx.url, f"http://127.0.0.1:{a.port}",
                              f"http://127.0.0.1:{b.port}"], nginx.ca_file)
        started.extend(nodes)
        root = fed.login()
        wait_until(lambda: all(n["status"] == "online" for n in root.node.list(
            collaboration=fed.collaboration, all_pages=True)), 90, "the nodes to be online")
        yield Deployment(a, b, nginx, fed, nodes, folder)
    finally:
        _stop([part for part in started if isinstance(part, CliNode)])
        for part in started:
            if isinstance(part, ServerProcess) and part.process is not None \
                    and part.process.poll() is None:
                # NOTE: a graceful stop waits out requests nginx left open; this module
                # tests instances that end, not how they end (tests/cli does)
                _kill_instance(part)
        _stop([part for part in started if isinstance(part, Nginx)])
        drop_database(uri)


def _stop(parts: list[ServerProcess | Nginx | CliNode]) -> None:
    """Stop ``parts`` side by side: each is told first, then each is waited for."""
    for part in parts:
        if part.process is not None and part.process.poll() is None:
            part.process.terminate()
    for part in reversed(parts):
        part.stop()


def _task(client: Client, fed: Federation, organizations: list[int], value: object,
          marker: Path) -> int:
    task = client.task.create(
        collaboration=fed.collaboration, organizations=organizations,
        name=f"multi {uuid.uuid4().hex[:8]}", image=SCENARIO_IMAGE,
        input_={"method": "sleep_echo",
                "kwargs": {"seconds": 0.5, "value": value, "marker": str(marker)}})
    return int(task["id"])


def test_a_token_of_one_instance_works_at_the_other(deployment: Deployment) -> None:
    at_a = deployment.admin(deployment.a)
    at_b = _client(deployment.b)
    at_b.transport.token = at_a.token
    at_b.user_id = at_a.user_id
    assert at_b.whoami["user"]["username"] == deployment.fed.admin
    forged = _client(deployment.b)
    forged.transport.token = at_a.token[:-4] + ("AAAA" if not at_a.token.endswith("AAAA")
                                                 else "BBBB")
    with pytest.raises(errors.AuthenticationError):
        forged.transport.get("/user")


def test_failed_logins_count_per_address_across_instances(deployment: Deployment) -> None:
    """Three failures through nginx and two straight at instance B are five from one
    address (127.0.0.1) only if nginx's X-Forwarded-For was believed and the made-up
    addresses in front of it were not; the sixth attempt, even with the right password,
    is then slowed down, at either instance."""
    root = deployment.fed.root
    name = f"guess-{uuid.uuid4().hex[:6]}"
    root.user.create(username=name, password=ADMIN_PASSWORD,
                     organization=deployment.fed.org_ids[0], roles=[])
    via_nginx = f"{deployment.nginx.url}/api/token/user"
    direct_b = f"http://127.0.0.1:{deployment.b.port}/api/token/user"
    for attempt, url in enumerate([via_nginx] * 3 + [direct_b] * 2):
        answer = requests.post(url, json={"username": name, "password": "wrong-Pass-1"},
                               headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}"},
                               verify=str(deployment.nginx.ca_file), timeout=30)
        assert answer.status_code == 401, answer.json().get("code")
    for url in (via_nginx, direct_b):
        answer = requests.post(url, json={"username": name, "password": ADMIN_PASSWORD},
                               verify=str(deployment.nginx.ca_file), timeout=30)
        assert answer.status_code == 429, answer.json().get("code")


def test_events_reach_their_waiters_across_instances(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Node 2 long-polls at B for a task created at A; the researcher waits at A for the
    result node 2 posts at B. Then the other way round, with node 1 at A."""
    fed = deployment.fed
    for create_at, wait_at, node in ((deployment.a, deployment.a, 2),
                                     (deployment.b, deployment.b, 1)):
        client = deployment.admin(create_at)
        began = time.monotonic()
        task_id = _task(client, fed, [fed.org_ids[node]], node, tmp_path / f"n{node}")
        results = deployment.admin(wait_at).wait_for_results(task_id, timeout=60,
                                                             interval=EVENT_TIMEOUT)
        took = time.monotonic() - began
        with capsys.disabled():
            print(f"\nmulti-instance: task created at {create_at.port}, run by node {node} "
                  f"at the other instance, result back in {took:.2f} s")
        assert results == [{"echo": node, "slept": 0.5}]
        assert took < PROMPT, f"the task at node {node} took {took:.1f} s: an event " \
                              "did not cross instances"


def _kill_instance(server: ServerProcess) -> None:
    """SIGKILL master and workers at once: the machine of that instance died."""
    assert server.process is not None
    workers = server.worker_pids()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    assert not wait_gone(workers, 10)


def test_killing_an_instance_loses_and_repeats_nothing(
        deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fed = deployment.fed
    earlier = {task["id"] for task in fed.root.task.list(collaboration=fed.collaboration,
                                                         all_pages=True)}
    markers = tmp_path / "markers"
    markers.mkdir()
    researcher = Researcher(fed, markers, concurrency=4, wait_timeout=120)
    working = researcher.run()
    wait_until(lambda: sum(s.task_id is not None for s in researcher.submissions) >= 4, 60,
               "the researcher's first tasks")
    in_flight = sum(s.results is None for s in researcher.submissions)
    killed_at = time.monotonic()
    _kill_instance(deployment.a)
    # work goes on at B: through nginx for node 0, directly for node 2
    client = deployment.admin(deployment.nginx)
    task_id = _task(client, fed, [fed.org_ids[0], fed.org_ids[2]], "while A is down",
                    tmp_path / "down")
    results = client.wait_for_results(task_id, timeout=60, interval=EVENT_TIMEOUT)
    assert results == [{"echo": "while A is down", "slept": 0.5}] * 2
    for org in (fed.org_ids[0], fed.org_ids[2]):
        assert marker_lines(tmp_path / "down", org) == ["started", "finished"]
    deployment.a.start()  # node 1, connected to A only, carries on
    down_for = time.monotonic() - killed_at
    researcher.stop()
    working.join(researcher.wait_timeout + 30)
    assert not working.is_alive(), "the researcher still waits"
    tally = Tally()
    check_outcome(tally, fed.login(), researcher, others=earlier | {task_id})
    upstream_errors = deployment.nginx.log().count("upstream")
    with capsys.disabled():
        print(f"\nmulti-instance, A killed with {in_flight} tasks in flight, down for "
              f"{down_for:.1f} s: {tally.summary()}; "
              f"nginx upstream errors {upstream_errors}")
    assert not tally.problems, "\n".join(tally.problems[:30])
    assert tally.tasks >= 4 and in_flight >= 1
    assert upstream_errors > 0, "no request met the dead instance: the kill tested nothing"
