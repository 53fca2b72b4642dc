"""Login throttling arithmetic: free attempts, then doubling waits up to a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v6lib.errors import RateLimitedError
from v6lib.server.auth.throttle import (
    FORGET_AFTER,
    Attempts,
    ThrottlePolicy,
    admit,
    delay_after,
    throttled_error,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = ThrottlePolicy(free_attempts=3, first_delay=timedelta(seconds=2),
                        max_delay=timedelta(minutes=1))


def test_delays_are_free_then_double_up_to_the_cap() -> None:
    delays = [delay_after(n, POLICY).total_seconds() for n in range(10)]
    assert delays == [0, 0, 0, 2, 4, 8, 16, 32, 60, 60]
    assert delay_after(10_000, POLICY) == timedelta(minutes=1)


def test_free_attempts_are_admitted_at_the_same_moment() -> None:
    state = Attempts()
    for expected in (1, 2, 3):
        decision = admit(state, T0, POLICY)
        assert decision.admitted and decision.attempts == Attempts(expected, T0)
        state = decision.attempts
    refused = admit(state, T0, POLICY)
    assert not refused.admitted and refused.retry_after == timedelta(seconds=2)
    assert refused.attempts == state  # a refused attempt is not counted


def test_waiting_the_delay_admits_one_more() -> None:
    state = Attempts(3, T0)
    assert not admit(state, T0 + timedelta(seconds=1.9), POLICY).admitted
    decision = admit(state, T0 + timedelta(seconds=2), POLICY)
    assert decision.admitted and decision.attempts.count == 4
    later = admit(decision.attempts, T0 + timedelta(seconds=3), POLICY)
    assert not later.admitted and later.retry_after == timedelta(seconds=3)


def test_old_attempts_are_forgotten() -> None:
    state = Attempts(50, T0)
    capped = admit(state, T0 + timedelta(hours=1), POLICY)
    assert capped.admitted and capped.attempts.count == 51
    fresh = admit(state, T0 + FORGET_AFTER, POLICY)
    assert fresh.admitted and fresh.attempts.count == 1


def test_zero_cap_turns_throttling_off() -> None:
    off = ThrottlePolicy(free_attempts=1, max_delay=timedelta(0))
    assert admit(Attempts(1000, T0), T0, off).admitted


@pytest.mark.parametrize(("wait", "text", "header"), [
    (timedelta(seconds=0.2), "1 second;", 1),
    (timedelta(seconds=59.5), "60 seconds", 60),
    (timedelta(minutes=14, seconds=1), "15 minutes", 841),
])
def test_error_tells_when_to_retry(wait: timedelta, text: str, header: int) -> None:
    error = throttled_error(wait)
    assert isinstance(error, RateLimitedError) and error.http_status == 429
    assert text in f"{error.message};" and error.details == {"retry_after_seconds": header}


def test_error_does_not_call_a_burst_of_correct_logins_failed() -> None:
    # attempts are counted before the secret is checked, so correct ones are slowed too
    assert "failed" not in throttled_error(timedelta(seconds=3)).message
