"""Someone else's token at a real node proxy: refused before anything is decrypted.

The node proxy opens sealed results with the node's private key. Any process that can
reach it (on ``127.0.0.1`` with the process runtime) could hand it a token of its own,
a viewer's user token, an administrator's, the node's own, or the container token of a
run that has ended, and have the proxy forward the request and decrypt the answer. A
real server, an encrypted collaboration and a real node (process runtime) show that
only the container token of a run in flight on that node gets through. A node with the
Docker runtime has no TCP port at all: its proxy answers on its Unix socket only, under
the same rule.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.docker_support import BASE_IMAGE, PROBE_IMAGE, cleanup_node
from tests.integration.conftest import (
    ADMIN_PASSWORD,
    LiveServer,
    ThreadNode,
    wait_statuses,
    wait_until,
)
from tests.security.conftest import NodeSite
from v6lib.node.run_files import run_paths
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.schemas.run_status import RunStatus

from .conftest import sealed_site

pytestmark = pytest.mark.integration

REFUSAL = {"code": "permission_denied", "message": "the node proxy serves only the "
           "container token of a run in flight on this node"}
ACTIVE = RunStatus.ACTIVE.value


class Site(NodeSite):

    def task(self, image: str, input_: dict[str, Any]) -> dict[str, Any]:
        return self.fed.root.task.create(collaboration=self.fed.collaboration,
                                         organizations=[self.org], name="tokens",
                                         image=image, input_=input_)

    def token_of_active_run(self, task: dict[str, Any]) -> str:
        """What the node wrote to the run's token file (the container's token)."""
        wait_statuses(self.fed.root, task["id"], {ACTIVE}, timeout=90)
        [run] = self.fed.root.run.from_task(task["id"])
        token_file = run_paths(self.node.options.task_dir, task["id"], run["id"]).token_file
        return token_file.read_text()

    def killed(self, task: dict[str, Any]) -> None:
        """Kill the task; return once the node, not only the server, has ended its run."""
        self.fed.root.task.kill(task["id"])
        wait_statuses(self.fed.root, task["id"], {RunStatus.KILLED.value}, timeout=30)
        [run] = self.fed.root.run.from_task(task["id"])
        journal = self.node.node.journal
        wait_until(lambda: not journal.get(run["id"]).in_flight,  # type: ignore[union-attr]
                   30, "the node to journal the kill")

    def user_token(self, role: str) -> str:
        """A fresh user of the site's organization with ``role``; their access token."""
        ids = [r["id"] for r in self.fed.root.role.list(all_pages=True) if r["name"] == role]
        name = f"{role.lower()}-{uuid.uuid4().hex[:6]}"
        self.fed.root.user.create(username=name, password=ADMIN_PASSWORD,
                                  organization=self.org, roles=ids)
        answer = requests.post(f"{self.fed.server.url}/token/user", timeout=10,
                               json={"username": name, "password": ADMIN_PASSWORD})
        return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def site(live_server: LiveServer, scenario_package: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    fed, options, _ = sealed_site(live_server, scenario_package,
                                  tmp_path_factory.mktemp("tokens"))
    node = ThreadNode(options)
    fed.nodes.append(node)
    try:
        yield Site(fed, node)
    finally:
        fed.stop_nodes()


def _sleep(seconds: float, value: str = "") -> dict[str, Any]:
    return {"method": "sleep_echo", "kwargs": {"seconds": seconds, "value": value}}


def test_only_a_live_runs_container_token_passes_the_proxy(site: Site) -> None:
    # Prepare: a result sealed for the organization, and a run still in flight
    secret = f"SEALED-RESULT-{uuid.uuid4().hex}"
    done = site.task("v6-scenario:test", _sleep(2, secret))
    done_token = site.token_of_active_run(done)
    wait_statuses(site.fed.root, done["id"], {RunStatus.COMPLETED.value}, timeout=60)
    live = site.task("v6-scenario:test", _sleep(120))
    live_token = site.token_of_active_run(live)
    proxy = f"http://127.0.0.1:{site.node.node.proxy.port}/api"  # type: ignore[union-attr]
    others = {
        "a viewer's user token": site.user_token("Viewer"),
        "an administrator's user token": str(site.fed.root.token),
        "the node's own token": str(site.node.node.link.transport.token),
        "the container token of a finished run": done_token,
        "a forged string": "forged-" + uuid.uuid4().hex,
    }
    try:
        # Execute and assert: every other token is refused, whatever it asks for
        for who, token in others.items():
            auth = {"Authorization": f"Bearer {token}"}
            for method, path, body in (("GET", f"/result?task_id={done['id']}", None),
                                       ("GET", f"/run?task_id={done['id']}", None),
                                       ("GET", f"/task/{done['id']}", None),
                                       ("POST", "/task", {"organizations": []})):
                answer = requests.request(method, proxy + path, json=body, headers=auth,
                                          timeout=10)
                assert (answer.status_code, answer.json()) == (403, REFUSAL), (who, path)
                assert secret not in answer.text
        # the live run's token still works (the proxy decrypts what its run may read)
        own = requests.get(f"{proxy}/task/{live['id']}", timeout=10,
                           headers={"Authorization": f"Bearer {live_token}"})
        assert own.status_code == 200 and own.json()["id"] == live["id"]
    finally:
        site.killed(live)
    after = requests.get(f"{proxy}/task/{live['id']}", timeout=10,
                         headers={"Authorization": f"Bearer {live_token}"})
    assert (after.status_code, after.json()) == (403, REFUSAL)


def _via_socket(path: Path, method: str, url: str, token: str) -> tuple[int, Any]:
    """An HTTP request on the proxy's Unix socket (how containers reach it)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(f"{method} {url} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.docker
@pytest.mark.slow
def test_a_docker_nodes_proxy_has_no_tcp_port_and_the_same_rule(
        live_server: LiveServer, scenario_package: Path, docker_client: Any,
        tmp_path: Path) -> None:
    fed, options, _ = sealed_site(live_server, scenario_package, tmp_path, runtime="docker",
                                  allowed_images=(PROBE_IMAGE,),
                                  algorithm_env={"V6_PROBE": "import time; time.sleep(600)"})
    node = ThreadNode(options, runtime=DockerRuntime(fed.names[0], check_image=BASE_IMAGE))
    fed.nodes.append(node)
    site = Site(fed, node)
    try:
        proxy = node.node.proxy
        assert proxy is not None and proxy.port == 0 and proxy.host == ""
        socket_path = node.runtime.proxy_socket()
        assert socket_path is not None
        live = site.task(PROBE_IMAGE, {"method": "sleep"})
        live_token = site.token_of_active_run(live)
        assert _via_socket(socket_path, "GET", f"/api/task/{live['id']}", live_token)[0] == 200
        for token in (site.user_token("Viewer"), str(node.node.link.transport.token),
                      "forged"):
            assert _via_socket(socket_path, "GET", f"/api/task/{live['id']}", token) == \
                (403, REFUSAL)
        site.killed(live)
        assert _via_socket(socket_path, "GET", f"/api/task/{live['id']}", live_token) == \
            (403, REFUSAL)
    finally:
        fed.stop_nodes()
        assert cleanup_node(docker_client, node.runtime) == []
