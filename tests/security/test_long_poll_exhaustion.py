"""Finding 8: any user, a Viewer included, could hold every request thread with
concurrent ``GET /event?timeout=...`` long-polls; ``/health`` then took 13 s.

The server here runs on 8 threads, like one gunicorn gthread worker with ``threads: 8``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.security.conftest import Live, LiveFactory
from tests.server.conftest import ROOT_PASSWORD
from v6lib.client import Client

THREADS = 8
SLOTS = 6  # long_poll_slots(THREADS)
HOLD = 8  # seconds each long-poll asks to be held


class _Polls:
    """Long-polls started in threads; ``answers`` collects (status, seconds, response)."""

    def __init__(self, server: Live) -> None:
        self.server = server
        self.answers: list[tuple[int, float, requests.Response]] = []
        self.threads: list[threading.Thread] = []

    def start(self, token: str, path: str = "/event", n: int = 1) -> None:
        for _ in range(n):
            thread = threading.Thread(target=self._poll, args=(token, path), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _poll(self, token: str, path: str) -> None:
        started = time.monotonic()
        answer = self.server.get(path, token=token, params={"timeout": HOLD}, timeout=60)
        self.answers.append((answer.status_code, time.monotonic() - started, answer))

    def join(self) -> None:
        for thread in self.threads:
            thread.join(60)

    def statuses(self) -> Counter[int]:
        return Counter(status for status, _, _ in self.answers)


@pytest.fixture
def polls() -> Iterator[type[_Polls]]:
    yield _Polls


def _health_seconds(server: Live) -> float:
    started = time.monotonic()
    assert server.get("/health", timeout=30).status_code == 200
    return time.monotonic() - started


def test_a_viewer_cannot_hold_every_thread(live: LiveFactory,
                                           polls: type[_Polls]) -> None:
    # Prepare
    server = live(threads=THREADS, config={"threads": THREADS})
    world = server.world()
    viewer = world.user("viewer", world.org_a, ["Viewer"])
    task = world.task()
    attack = polls(server)
    # Execute: twice as many long-polls as the server has threads, of both kinds
    attack.start(viewer, "/event", n=THREADS)
    attack.start(viewer, f"/task/{task['id']}/wait", n=THREADS)
    time.sleep(1.0)
    # Assert: the server still answers other requests at once
    assert _health_seconds(server) < 1.0
    assert server.get("/version").status_code == 200
    refused = [(s, secs, a) for s, secs, a in attack.answers if s == 429]
    assert len(refused) == 2 * THREADS - 2, attack.statuses()
    for _, seconds, answer in refused:
        assert seconds < 1.0
        assert int(answer.headers["Retry-After"]) >= 1
        body = answer.json()
        assert body["code"] == "rate_limited" and "long-poll" in body["message"]
    attack.join()
    assert attack.statuses() == Counter({429: 2 * THREADS - 2, 200: 2})


def test_many_callers_leave_threads_for_everyone_else(live: LiveFactory,
                                                      polls: type[_Polls]) -> None:
    # Prepare: four viewers, each within its own cap, together more than the threads
    server = live(threads=THREADS, config={"threads": THREADS})
    world = server.world()
    viewers = [world.user(f"viewer{i}", world.org_a, ["Viewer"]) for i in range(4)]
    attack = polls(server)
    # Execute
    for token in viewers:
        attack.start(token, "/event", n=2)
    time.sleep(1.0)
    # Assert: the polls beyond the worker's long-poll slots are not held but answered
    # at once (with nothing new), so every thread beyond the slots stays free
    assert _health_seconds(server) < 1.0
    early = [(secs, a) for s, secs, a in attack.answers if s == 200 and secs < HOLD / 2]
    assert len(early) == 2 * 4 - SLOTS, attack.answers
    for seconds, answer in early:
        assert seconds < 1.0 and int(answer.headers["Retry-After"]) >= 1
        assert answer.json()["events"] == []
    # the polls that got a slot were held to the end: as many as the slots
    attack.join()
    assert attack.statuses() == Counter({200: 8})
    held = [secs for s, secs, _ in attack.answers if secs >= HOLD / 2]
    assert len(held) == SLOTS


def test_callers_that_poll_again_at_once_do_not_starve_a_researchers_wait(
        live: LiveFactory) -> None:
    """More nodes than slots, each asking again the moment it is answered (as a node's
    event stream does), once kept every other wait refused until it timed out."""
    # Prepare: eight "nodes" (viewers here) polling events back to back
    server = live(threads=THREADS, config={"threads": THREADS})
    world = server.world()
    pollers = [world.user(f"poller{i}", world.org_a, ["Viewer"]) for i in range(8)]
    stop = threading.Event()

    def poll_forever(token: str) -> None:
        while not stop.is_set():
            server.get("/event", token=token, params={"timeout": HOLD}, timeout=60)

    threads = [threading.Thread(target=poll_forever, args=(t,), daemon=True)
               for t in pollers]
    for thread in threads:
        thread.start()
    task = world.task()
    address = urlsplit(server.base)
    researcher = Client(f"http://{address.hostname}", address.port, "/api")
    researcher.authenticate("root", ROOT_PASSWORD)
    try:
        time.sleep(1.0)  # every slot is taken by now
        # Execute: the task ends while the researcher waits for it
        threading.Timer(2.0, lambda: server.post(f"/task/{task['id']}/kill",
                                                 token=researcher.token)).start()
        started = time.monotonic()
        finished = researcher.task.wait(task["id"], timeout=30)
        # Assert: the wait saw the end within seconds, not at its own timeout
        assert finished["status"] == "killed by user"
        assert time.monotonic() - started < 8.0
    finally:
        stop.set()
        for thread in threads:
            thread.join(HOLD + 5)
