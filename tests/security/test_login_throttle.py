"""Findings 4 and 10: login throttling that raced, and that anyone could turn on others.

* 4: concurrent wrong passwords were all checked, because the failure counter was read
  and written back without a lock (40 guesses against ``max_failed_logins=5``).
* 10: five wrong passwords for ``root`` locked root out for everyone; failed node logins
  were counted per client address, so one client behind a reverse proxy locked out
  every node behind it.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from tests.security.conftest import Live, LiveFactory
from tests.server.conftest import ROOT_PASSWORD

ATTACKER = "127.0.0.2"
OWNER = "127.0.0.3"
BURST = 24


def _burst(server: Live, path: str, body: dict[str, str], n: int) -> Counter[int]:
    """``n`` requests released at the same moment, each on its own connection."""
    start = threading.Barrier(n)
    statuses: list[int] = []

    def attempt() -> None:
        with requests.Session() as session:
            start.wait()
            statuses.append(session.post(server.url(path), json=body, timeout=60).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres",
                                                             marks=pytest.mark.postgres)])
def test_a_burst_of_wrong_passwords_gets_at_most_max_failed_logins_checks(
        live: LiveFactory, database: str) -> None:
    # Prepare
    server = live(database=database, config={"max_failed_logins": 5})
    # Execute: many wrong passwords at once, from one address
    answers = _burst(server, "/token/user", {"username": "root", "password": "guess"}, BURST)
    # Assert: 401 means "the password was checked and was wrong"; 429 means "not checked"
    assert answers[401] + answers[429] == BURST, answers
    assert 1 <= answers[401] <= 5, answers


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres",
                                                             marks=pytest.mark.postgres)])
def test_a_burst_of_wrong_node_keys_gets_at_most_max_failed_logins_checks(
        live: LiveFactory, database: str) -> None:
    # Prepare: the attacker knows a node's selector (it is not secret)
    server = live(database=database, config={"max_failed_logins": 5})
    world = server.world()
    selector, _, secret = world.key_a.partition(".")
    guess = f"{selector}.{'A' * len(secret)}"
    # Execute
    answers = _burst(server, "/token/node", {"api_key": guess}, BURST)
    # Assert
    assert answers[401] + answers[429] == BURST, answers
    assert 1 <= answers[401] <= 5, answers


def test_attacker_cannot_lock_root_out(live: LiveFactory) -> None:
    # Prepare
    server = live(config={"max_failed_logins": 5})
    wrong = {"username": "root", "password": "guess"}
    right = {"username": "root", "password": ROOT_PASSWORD}
    # Execute: an attacker exhausts the free attempts and more, from its own address
    statuses = [server.post("/token/user", json=wrong, source=ATTACKER).status_code
                for _ in range(8)]
    # Assert: the attacker is slowed down, even when it finally has the right password
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    throttled = server.post("/token/user", json=right, source=ATTACKER)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    # while root, from its own address, logs in at once
    owner = server.post("/token/user", json=right, source=OWNER)
    assert owner.status_code == 200, owner.text
    assert server.get("/organization", token=owner.json()["access_token"]).status_code == 200


def test_node_shares_an_address_with_an_attacker(live: LiveFactory) -> None:
    # Prepare: no trusted proxy configured, so both are seen at the same address
    server = live(config={"max_failed_logins": 5})
    world = server.world()
    # Execute: the attacker sprays malformed keys and keys with made-up selectors
    for guess in ["not-a-key"] * 6 + [f"{'x' * 16}.{'A' * 43}"] * 6:
        server.post("/token/node", json={"api_key": guess}, source=ATTACKER)
    assert server.post("/token/node", json={"api_key": "not-a-key"},
                       source=ATTACKER).status_code == 429
    # Assert: the node, on the same address, logs in with its key
    login = server.post("/token/node", json={"api_key": world.key_a}, source=ATTACKER)
    assert login.status_code == 200, login.text


def test_node_behind_the_same_reverse_proxy_as_an_attacker(live: LiveFactory) -> None:
    # Prepare: 127.0.0.1 is the reverse proxy; it forwards the real client addresses
    server = live(config={"max_failed_logins": 5, "trusted_proxies": ["127.0.0.1/32"]})
    world = server.world()
    selector, _, secret = world.key_a.partition(".")
    guess = {"api_key": f"{selector}.{'A' * len(secret)}"}
    via_proxy = {"X-Forwarded-For": "203.0.113.66"}
    # Execute: the attacker guesses the node's secret through the proxy until throttled
    statuses = [server.post("/token/node", json=guess, headers=via_proxy).status_code
                for _ in range(7)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    # and, not being a proxy, tries to pass itself off as the node's address
    forged = {"X-Forwarded-For": "198.51.100.10"}
    for _ in range(7):
        server.post("/token/node", json=guess, headers=forged, source=ATTACKER)
    # Assert: the node, behind the same proxy, logs in
    node = server.post("/token/node", json={"api_key": world.key_a},
                       headers={"X-Forwarded-For": "198.51.100.10"})
    assert node.status_code == 200, node.text
    # while the attacker stays throttled, with the right key too
    stolen = server.post("/token/node", json={"api_key": world.key_a}, headers=via_proxy)
    assert stolen.status_code == 429
