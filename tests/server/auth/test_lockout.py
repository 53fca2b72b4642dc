"""Login lockout arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from v6lib.errors import RateLimitedError
from v6lib.server.auth.lockout import (
    is_locked,
    lockout_error,
    next_failed_attempts,
    remaining_lockout,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_not_locked_below_the_limit():
    assert not is_locked(4, T0, T0, max_attempts=5, lockout_minutes=15)
    assert remaining_lockout(4, T0, T0, max_attempts=5, lockout_minutes=15) == timedelta(0)


def test_locked_at_the_limit_until_the_window_passes():
    assert is_locked(5, T0, T0 + timedelta(minutes=1))
    assert remaining_lockout(5, T0, T0 + timedelta(minutes=1)) == timedelta(minutes=14)
    assert is_locked(5, T0, T0 + timedelta(minutes=14, seconds=59))
    assert not is_locked(5, T0, T0 + timedelta(minutes=15))


def test_never_failed_is_never_locked():
    assert not is_locked(10, None, T0)


def test_custom_limits():
    assert is_locked(2, T0, T0 + timedelta(minutes=2), max_attempts=2, lockout_minutes=3)
    assert not is_locked(2, T0, T0 + timedelta(minutes=3), max_attempts=2, lockout_minutes=3)


def test_failure_counting_resets_after_the_window():
    assert next_failed_attempts(0, None, T0) == 1
    assert next_failed_attempts(3, T0, T0 + timedelta(minutes=5)) == 4
    assert next_failed_attempts(5, T0, T0 + timedelta(minutes=15)) == 1


def test_lockout_error_tells_when_to_retry():
    error = lockout_error(timedelta(minutes=14, seconds=1))
    assert isinstance(error, RateLimitedError)
    assert error.message == "too many failed login attempts; try again in 15 minutes"
    assert error.details == {"retry_after_seconds": 841}
    assert "1 minute" in lockout_error(timedelta(seconds=5)).message
