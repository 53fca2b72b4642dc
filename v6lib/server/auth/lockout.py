"""Login lockout arithmetic: after too many failed attempts an account waits a while.

Pure functions over (failed attempt count, time of last failure, now), so the login
service stores two columns and the tests need no clock mocking. vantage6's defaults:
5 attempts, 15 minutes.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from v6lib.errors import RateLimitedError

__all__ = [
    "DEFAULT_LOCKOUT_MINUTES",
    "DEFAULT_MAX_ATTEMPTS",
    "is_locked",
    "lockout_error",
    "next_failed_attempts",
    "remaining_lockout",
]

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_LOCKOUT_MINUTES = 15


def remaining_lockout(
    failed_attempts: int,
    last_failed_at: datetime | None,
    now: datetime,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lockout_minutes: float = DEFAULT_LOCKOUT_MINUTES,
) -> timedelta:
    """How long the account stays locked; ``timedelta(0)`` when it is not locked."""
    if last_failed_at is None or failed_attempts < max_attempts:
        return timedelta(0)
    left = last_failed_at + timedelta(minutes=lockout_minutes) - now
    return max(left, timedelta(0))


def is_locked(
    failed_attempts: int,
    last_failed_at: datetime | None,
    now: datetime,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lockout_minutes: float = DEFAULT_LOCKOUT_MINUTES,
) -> bool:
    """True while ``max_attempts`` failures are less than ``lockout_minutes`` old."""
    return remaining_lockout(
        failed_attempts,
        last_failed_at,
        now,
        max_attempts=max_attempts,
        lockout_minutes=lockout_minutes,
    ) > timedelta(0)


def next_failed_attempts(
    failed_attempts: int,
    last_failed_at: datetime | None,
    now: datetime,
    *,
    lockout_minutes: float = DEFAULT_LOCKOUT_MINUTES,
) -> int:
    """The failure count to store after one more failure at ``now``.

    Failures older than the lockout window are forgotten, so a lock ends on its own and
    an old typo does not count against today's login.
    """
    if last_failed_at is None or now - last_failed_at >= timedelta(minutes=lockout_minutes):
        return 1
    return failed_attempts + 1


def lockout_error(remaining: timedelta) -> RateLimitedError:
    """The error to raise for a locked account, telling the person when to retry."""
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return RateLimitedError(
        f"too many failed login attempts; try again in {minutes} {unit}",
        details={"retry_after_seconds": math.ceil(remaining.total_seconds())},
    )
