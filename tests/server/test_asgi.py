"""The event-loop front over real HTTP (uvicorn in a thread): held long-polls take no
thread, an event re-runs only the polls it concerns, and the per-caller limits hold."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST
from v6lib.testing.http_server import serve_event_loop

ROOT_PASSWORD = "Root-pass-1234!"
POOL = 2  # threads that run requests: far fewer than the polls held below


class _Counting:
    """The WSGI app, counting the requests it runs per path (re-runs included)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.v6_state = app.v6_state
        self.runs: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.runs[environ["PATH_INFO"]] += 1
        if "HTTP_X_TEST_SLOW" in environ:  # a poll that keeps its pool thread busy
            time.sleep(float(environ["HTTP_X_TEST_SLOW"]))
        return self.app(environ, start_response)


class Site:
    def __init__(self, port: int, app: _Counting) -> None:
        self.base = f"http://127.0.0.1:{port}/api"
        self.port = port
        self.app = app
        self.root = self._headers(self.post("/token/user", {
            "username": "root", "password": ROOT_PASSWORD}, {})["access_token"])
        root_org = self.get("/organization", self.root, name="root")["data"][0]["id"]
        self.orgs = [self.post("/organization", {"name": f"o{i}"})["id"] for i in range(4)]
        self.collab = self.post("/collaboration", {
            "name": "c", "organization_ids": [*self.orgs, root_org]})["id"]
        self.nodes = []
        for org in self.orgs:
            key = self.post("/node", {"collaboration_id": self.collab,
                                      "organization_id": org})["api_key"]
            self.nodes.append(self._headers(
                self.post("/token/node", {"api_key": key}, {})["access_token"]))

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
             status: int | None = None) -> Any:
        answer = requests.post(self.base + path, json=body, timeout=30,
                               headers=self.root if headers is None else headers)
        assert answer.status_code == (status or answer.status_code) and answer.ok, answer.text
        return answer.json()

    def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        answer = requests.get(self.base + path, params=params, headers=headers, timeout=30)
        assert answer.ok, answer.text
        return answer.json()

    def task(self, org: int) -> dict[str, Any]:
        return dict(self.post("/task", {"collaboration_id": self.collab, "image": "i:1",
                                        "organizations": [{"id": org, "input": "e30="}]}))

    def cursor(self, node: dict[str, str]) -> int:
        return int(self.get("/event", node)["cursor"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("front") / "server.sqlite"
    config = ServerConfig(uri=f"sqlite:///{db}", root_password=ROOT_PASSWORD,
                          jwt_secret_key="k" * 40, max_long_polls_per_caller=2)
    app = _Counting(create_app(config, kdf_cost=TEST_COST, event_loop=True,
                               announce=lambda result, name: None))
    try:
        with serve_event_loop(app, threads=POOL) as port:
            yield Site(port, app)
    finally:
        app.v6_state.engine.dispose()


class Poll(threading.Thread):
    """One long-poll in a thread of the test; ``answer`` once it returned."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.answer: requests.Response | None = None
        self.start()

    def run(self) -> None:
        self.answer = requests.get(self.url, headers=self.headers, timeout=60)


def _events(site: Site, node: dict[str, str], timeout: float = 30) -> Poll:
    return Poll(f"{site.base}/event?since={site.cursor(node)}&timeout={timeout}", node)


def _until(check: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_held_polls_take_no_thread_and_an_event_reruns_only_its_node(site: Site) -> None:
    # two polls per node for three nodes: six held requests on a pool of two threads
    polls = {node: [_events(site, site.nodes[node]) for _ in range(2)] for node in (1, 2, 3)}
    assert _until(lambda: site.app.v6_state.long_polls.held == 6), "polls not held"
    runs = site.app.runs["/api/event"]
    # the pool is free: other requests are answered while every poll waits
    started = time.monotonic()
    for _ in range(5):
        assert requests.get(f"{site.base}/health", timeout=5).status_code == 200
    assert time.monotonic() - started < 5
    # a task for organization 0 (no poll waiting) wakes no one ...
    site.task(site.orgs[0])
    time.sleep(1.0)
    assert site.app.runs["/api/event"] == runs
    assert all(poll.answer is None for held in polls.values() for poll in held)
    # ... one for organization 1 re-runs exactly the two polls of node 1
    task = site.task(site.orgs[1])
    assert _until(lambda: all(poll.answer is not None for poll in polls[1]))
    for poll in polls[1]:
        assert poll.answer is not None and poll.answer.status_code == 200
        assert [(e["type"], e["task_id"]) for e in poll.answer.json()["events"]] == [
            ("run_created", task["id"])]
    assert site.app.runs["/api/event"] == runs + 2
    assert all(poll.answer is None for node in (2, 3) for poll in polls[node])
    site.task(site.orgs[2])
    site.task(site.orgs[3])
    assert _until(lambda: all(p.answer is not None for n in (2, 3) for p in polls[n]))
    assert _until(lambda: site.app.v6_state.long_polls.held == 0)


def test_a_caller_holds_at_most_its_share_of_polls(site: Site) -> None:
    node = site.nodes[0]
    held = [_events(site, node) for _ in range(2)]
    assert _until(lambda: site.app.v6_state.long_polls.held == 2)
    third = requests.get(f"{site.base}/event", params={"timeout": 30}, headers=node, timeout=10)
    assert third.status_code == 429 and third.json()["code"] == "rate_limited"
    site.task(site.orgs[0])
    assert _until(lambda: all(poll.answer is not None for poll in held))


def test_a_client_that_goes_away_gives_its_slot_back(site: Site) -> None:
    node = site.nodes[1]
    token = node["Authorization"]
    sockets = []
    for _ in range(2):
        raw = socket.create_connection(("127.0.0.1", site.port))
        raw.sendall(f"GET /api/event?timeout=30 HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: {token}\r\n\r\n".encode())
        sockets.append(raw)
    assert _until(lambda: site.app.v6_state.long_polls.held == 2)
    for raw in sockets:
        raw.close()
    assert _until(lambda: site.app.v6_state.long_polls.held == 0, 5), "slots kept by gone polls"
    poll = _events(site, node)
    assert _until(lambda: site.app.v6_state.long_polls.held == 1)
    site.task(site.orgs[1])
    assert _until(lambda: poll.answer is not None and poll.answer.json()["events"] != [])


def test_task_wait_is_held_until_the_task_ends(site: Site) -> None:
    task = site.task(site.orgs[2])
    wait = Poll(f"{site.base}/task/{task['id']}/wait?timeout=30", site.root)
    assert _until(lambda: site.app.v6_state.long_polls.held == 1)
    runs = site.app.runs[f"/api/task/{task['id']}/wait"]
    site.task(site.orgs[2])  # another task's events do not re-run this wait
    time.sleep(0.5)
    assert wait.answer is None and site.app.runs[f"/api/task/{task['id']}/wait"] == runs
    site.post(f"/task/{task['id']}/kill", {})
    assert _until(lambda: wait.answer is not None)
    assert wait.answer is not None and wait.answer.json()["status"] == "killed by user"


def _parked_node(site: Site) -> tuple[int, int, dict[str, str], Poll]:
    """A node of its own organization, with a poll parked on the front."""
    org = site.post("/organization", {"name": f"parked-{time.monotonic_ns()}"})["id"]
    site.post(f"/collaboration/{site.collab}/organization", {"id": org})
    created = site.post("/node", {"collaboration_id": site.collab, "organization_id": org})
    node = Site._headers(site.post("/token/node", {"api_key": created["api_key"]},
                                   {})["access_token"])
    held = site.app.v6_state.long_polls.held
    poll = _events(site, node)
    assert _until(lambda: site.app.v6_state.long_polls.held == held + 1), "poll not parked"
    return org, created["id"], node, poll


def test_a_woken_poll_is_authenticated_again(site: Site) -> None:
    """A parked poll is re-run in full when woken: a node deleted while it waited (its
    organization registered a new one), or whose API key was replaced, is not told of
    its organization's later tasks."""
    org, node_id, _, poll = _parked_node(site)
    requests.delete(f"{site.base}/node/{node_id}", headers=site.root,
                    timeout=30).raise_for_status()
    site.post("/node", {"collaboration_id": site.collab, "organization_id": org})
    site.task(org)
    assert _until(lambda: poll.answer is not None)
    assert poll.answer is not None and poll.answer.status_code == 401, poll.answer.text
    assert "events" not in poll.answer.json()

    org, node_id, _, poll = _parked_node(site)
    site.post(f"/node/{node_id}/api_key", {})
    site.task(org)
    assert _until(lambda: poll.answer is not None)
    assert poll.answer is not None and poll.answer.status_code == 401, poll.answer.text


def test_a_woken_poll_is_told_of_its_own_events_only(site: Site) -> None:
    """Answered from the hub's memory (no table read), a woken poll still gets its
    node's events and no other's."""
    org, _, node, poll = _parked_node(site)
    cursor = site.cursor(node)
    mine = site.task(org)
    site.task(site.orgs[0])
    assert _until(lambda: poll.answer is not None)
    assert poll.answer is not None and poll.answer.status_code == 200
    told = poll.answer.json()
    assert [(e["type"], e["task_id"]) for e in told["events"]] == [("run_created", mine["id"])]
    assert told["cursor"] > cursor


def test_a_woken_poll_does_not_queue_behind_a_burst_of_polls(site: Site) -> None:
    """New polls queue in their pool (one thread here); a poll an event woke runs in a
    pool of its own, so it is answered while the burst still waits its turn."""
    org, _, _, poll = _parked_node(site)
    slow = {**site.nodes[0], "X-Test-Slow": "1.0"}
    burst = [Poll(f"{site.base}/event?timeout=0", slow) for _ in range(3)]
    time.sleep(0.2)  # the burst holds the pool's thread, the rest of it queues
    mine = site.task(org)
    sent = time.monotonic()
    assert _until(lambda: poll.answer is not None, 10)
    took = time.monotonic() - sent
    assert poll.answer is not None and poll.answer.status_code == 200
    assert [e["task_id"] for e in poll.answer.json()["events"]] == [mine["id"]]
    assert took < 1.5, f"told after {took:.2f} s, behind the burst"
    assert any(other.answer is None for other in burst), "the burst was over: no test"
    for other in burst:
        other.join(30)


def test_polls_with_nothing_to_tell_time_out_spread_out(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes that asked together do not all time out (and ask again) together: a parked
    poll ends up to ``SPREAD`` of its timeout early (here the earliest it may)."""
    from v6lib.server import asgi

    monkeypatch.setattr(asgi.random, "random", lambda: 1.0)
    node = site.nodes[2]
    url = f"{site.base}/event?since={site.cursor(node)}&timeout=3"
    started = time.monotonic()
    answer = requests.get(url, headers=node, timeout=30)
    took = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["events"] == []
    assert 3 * (1 - asgi.SPREAD) - 0.1 <= took < 3 - 0.1, took


@pytest.mark.parametrize(("params", "headers", "status"), [
    ({"timeout": "soon"}, None, 400),
    ({"timeout": 30, "since": -1}, None, 400),
    ({"timeout": 30}, {"Authorization": "Bearer forged"}, 401),
])
def test_malformed_or_unauthorized_polls_are_answered_at_once(
        site: Site, params: dict[str, Any], headers: dict[str, str] | None, status: int) -> None:
    started = time.monotonic()
    answer = requests.get(f"{site.base}/event", params=params, timeout=10,
                          headers=site.nodes[3] if headers is None else headers)
    assert answer.status_code == status and "code" in answer.json()
    assert time.monotonic() - started < 5


def test_a_header_cannot_park_a_request(site: Site) -> None:
    # NOTE: the park lives in the ASGI scope, which no header reaches: a forged one is
    # ignored and the poll answers at once (timeout 0), holding nothing
    answer = requests.get(f"{site.base}/event", timeout=10, headers={
        **site.nodes[3], "asgi.scope": "x", "v6.park": "1", "X-V6-Park": "1"})
    assert answer.status_code == 200 and site.app.v6_state.long_polls.held == 0


def test_a_forwarded_for_header_does_not_choose_the_address_logins_count_for(
        site: Site) -> None:
    """The event-loop server must not take X-Forwarded-For from a local peer as the
    client's address (uvicorn's default): only the server's ``trusted_proxies`` rule may,
    and with none configured five failures from one peer slow down the sixth attempt,
    whatever addresses the requests claim. (Last in this module: it slows root down.)"""
    for attempt in range(5):
        answer = requests.post(f"{site.base}/token/user", timeout=30,
                               json={"username": "root", "password": "wrong-Pass-1"},
                               headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}"})
        assert answer.status_code == 401, answer.text
    answer = requests.post(f"{site.base}/token/user", timeout=30,
                           json={"username": "root", "password": ROOT_PASSWORD},
                           headers={"X-Forwarded-For": "198.51.100.99"})
    assert answer.status_code == 429, answer.text


def test_gunicorn_s_event_loop_worker_leaves_forwarded_headers_to_the_server() -> None:
    from v6lib.server.worker import LoopWorker

    assert LoopWorker.CONFIG_KWARGS["proxy_headers"] is False


def test_bare_gunicorn_s_front_has_the_file_s_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gunicorn v6lib.server.asgi:app`` sizes its pool by the file's ``threads`` unless
    ``V6_SERVER_THREADS`` (what ``v6 server start`` sets) says otherwise."""
    from v6lib.server import asgi

    config = tmp_path / "server.yaml"
    config.write_text(f"uri: sqlite:///{tmp_path / 'server.sqlite'}\n"
                      f"root_password: {ROOT_PASSWORD}\njwt_secret_key: {'k' * 40}\n"
                      "threads: 5\n")
    monkeypatch.setenv("V6_SERVER_CONFIG", str(config))
    monkeypatch.delenv("V6_SERVER_THREADS", raising=False)
    for variable, threads in ((None, 5), ("3", 3)):
        if variable is not None:
            monkeypatch.setenv("V6_SERVER_THREADS", variable)
        front = asgi.load_app()
        try:
            assert front.inner.executor._max_workers == threads
        finally:
            front.v6_state.hub.stop()
            front.v6_state.engine.dispose()
