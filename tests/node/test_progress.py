"""The node's progress relay and the proxy's ``POST /progress`` (never forwarded as such)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from v6lib.errors import ConflictError, PermissionDenied, ServerUnavailableError, ValidationError
from v6lib.node.journal import Journal
from v6lib.node.keys import NodeKeys
from v6lib.node.progress import ProgressRelay
from v6lib.node.proxy import NodeProxy
from v6lib.node.run_tokens import RunTokens
from v6lib.rules.progress import ProgressReport


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tokens(tmp_path: Path) -> Iterator[RunTokens]:
    journal = Journal(tmp_path / "journal.sqlite")
    journal.receive(1, task_id=10)
    tokens = RunTokens(journal)
    tokens.add(1, "token-of-run-1")
    yield tokens
    journal.close()


def make_relay(tokens: RunTokens, *, messages_allowed: bool = False
               ) -> tuple[ProgressRelay, list[tuple[int, ProgressReport]], Clock]:
    sent: list[tuple[int, ProgressReport]] = []
    clock = Clock()
    relay = ProgressRelay(tokens, lambda run_id, report: sent.append((run_id, report)),
                          messages_allowed=messages_allowed, clock=clock)
    return relay, sent, clock


def test_reports_are_reduced_and_sent_at_most_once_a_second(tokens: RunTokens) -> None:
    relay, sent, clock = make_relay(tokens)
    relay.receive("token-of-run-1", {"progress": 0.123456, "message": "mean is 43.2"})
    assert relay.flush() == 1
    relay.receive("token-of-run-1", {"progress": 0.3})
    relay.receive("token-of-run-1", {"progress": 0.2})  # never down
    assert relay.flush() == 0
    clock.now += 1.0
    assert relay.flush() == 1
    assert sent == [(1, ProgressReport(12)), (1, ProgressReport(30))]


def test_messages_leave_only_with_the_policy(tokens: RunTokens) -> None:
    relay, sent, _ = make_relay(tokens, messages_allowed=True)
    relay.receive("token-of-run-1", {"progress": 0.5, "message": "step 5/10\x00"})
    relay.flush()
    assert sent == [(1, ProgressReport(50, "step 5/10"))]


def test_only_a_run_in_flight_may_report(tokens: RunTokens) -> None:
    relay, _, _ = make_relay(tokens)
    with pytest.raises(PermissionDenied):
        relay.receive("a-users-token", {"progress": 0.5})
    for body in ({"message": "x"}, [0.5], {"progress": "half"}):
        with pytest.raises(ValidationError):
            relay.receive("token-of-run-1", body)


def test_a_run_the_server_says_ended_is_forgotten(tokens: RunTokens) -> None:
    calls: list[int] = []

    def refuse(run_id: int, report: ProgressReport) -> None:
        calls.append(run_id)
        raise ConflictError("run 1 has ended")

    relay = ProgressRelay(tokens, refuse, messages_allowed=False)
    relay.receive("token-of-run-1", {"progress": 0.5})
    relay.flush()
    relay.gate.offer(1, ProgressReport(60))  # state starts afresh after forgetting
    assert relay.gate.due(10**6) == [(1, ProgressReport(60))]
    assert calls == [1]


def test_a_server_outage_does_not_stop_the_relay(tokens: RunTokens) -> None:
    def away(run_id: int, report: ProgressReport) -> None:
        raise ServerUnavailableError("server away")

    relay = ProgressRelay(tokens, away, messages_allowed=False)
    relay.receive("token-of-run-1", {"progress": 0.5})
    assert relay.flush() == 0


@pytest.fixture
def proxy(tokens: RunTokens) -> Iterator[NodeProxy]:
    relay, _, _ = make_relay(tokens)
    keys = NodeKeys(encrypted=False, private_key=None, organization_getter=lambda i: {})
    # NOTE: an upstream nobody listens on: progress must never be forwarded there
    node_proxy = NodeProxy(upstream_url="http://127.0.0.1:9/api", keys=keys,
                           authorize=tokens.accepts, organization_id=1,
                           progress=relay.receive)
    node_proxy.start()
    yield node_proxy
    node_proxy.stop()


def test_the_proxy_hands_progress_to_the_node(proxy: NodeProxy) -> None:
    url = f"http://127.0.0.1:{proxy.port}/api/progress"
    ok = requests.post(url, json={"progress": 0.42}, timeout=5,
                       headers={"Authorization": "Bearer token-of-run-1"})
    assert ok.status_code == 202 and ok.json() == {"progress": 0.42}
    bad = requests.post(url, json={"progress": "most"}, timeout=5,
                        headers={"Authorization": "Bearer token-of-run-1"})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    stranger = requests.post(url, json={"progress": 0.5}, timeout=5,
                             headers={"Authorization": "Bearer a-users-token"})
    assert stranger.status_code == 403


def test_a_report_too_long_to_be_progress_is_refused_unread(proxy: NodeProxy) -> None:
    answer = requests.post(f"http://127.0.0.1:{proxy.port}/api/progress", timeout=5,
                           json={"progress": 0.5, "message": "x" * 10_000},
                           headers={"Authorization": "Bearer token-of-run-1"})
    assert answer.status_code == 413 and answer.json()["code"] == "payload_too_large"
