"""Backoff delays and the retrying call: growth, cap, jitter, giving up loudly."""

from __future__ import annotations

import threading

import pytest

from v6lib.errors import ConflictError, ServerUnavailableError
from v6lib.node.retry import Backoff, retry_call


def test_delays_grow_exponentially_and_are_capped() -> None:
    backoff = Backoff(base=1.0, factor=2.0, max_delay=10.0, jitter=0.0)
    assert [backoff.delay(i) for i in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_full_jitter_stays_within_the_cap() -> None:
    backoff = Backoff(base=1.0, max_delay=8.0, jitter=1.0)
    assert backoff.delay(3, rng=lambda: 0.0) == 0.0
    assert backoff.delay(3, rng=lambda: 0.5) == 4.0
    assert backoff.delay(3, rng=lambda: 0.999) < 8.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert Backoff(max_delay=5.0, jitter=0.0).delay(10_000) == 5.0


def test_retry_call_retries_until_success_with_backoff() -> None:
    calls, sleeps = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise ServerUnavailableError("down")
        return "ok"

    result = retry_call(flaky, backoff=Backoff(base=1.0, jitter=0.0), sleep=sleeps.append)
    assert result == "ok"
    assert sleeps == [1.0, 2.0, 4.0]


def test_retry_call_gives_up_after_max_attempts_with_the_last_error() -> None:
    sleeps: list[float] = []
    with pytest.raises(ServerUnavailableError, match="still down"):
        retry_call(lambda: (_ for _ in ()).throw(ServerUnavailableError("still down")),
                   max_attempts=3, sleep=sleeps.append)
    assert len(sleeps) == 2


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def conflict() -> None:
        calls.append(1)
        raise ConflictError("no")

    with pytest.raises(ConflictError):
        retry_call(conflict, sleep=lambda _: None)
    assert calls == [1]


def test_stop_event_ends_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ServerUnavailableError):
        retry_call(lambda: (_ for _ in ()).throw(ServerUnavailableError("x")), stop=stop)
