"""Login throttling arithmetic: exponential backoff per (account, source address).

Why per (account, source) and not per account: a hard lock per account lets anyone
lock anyone out (five wrong passwords for ``root`` and root cannot log in). Counting
per source slows down the address that guesses, while the account's owner, logging in
from another address, is not affected at all.

Why backoff instead of a lock: the first ``free_attempts`` attempts from a source go
through at once (typos); then each further attempt from that source must wait
``first_delay``, doubling with every attempt, up to ``max_delay``. A guesser that
keeps going ends up at one guess per ``max_delay`` per address, and a person who
mistyped a few times more than allowed waits seconds, not a quarter of an hour.

Why attempts are counted *before* the secret is checked (``admit``): every attempt
takes a numbered slot first, under a row lock, so a burst of concurrent guesses can
never get more than ``free_attempts`` of them checked; a success clears the count.

No per-account ceiling across all sources: any such ceiling is a lock a distributed
attacker can trigger, which is what this design removes. Guessing from many addresses
at once is left to what makes each guess worthless: the password policy, argon2 and
two-factor authentication (or, for nodes, 256-bit random secrets).

Pure functions over (attempt count, time of the last attempt, now), so the store keeps
two columns and the tests need no clock mocking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from v6lib.errors import RateLimitedError

__all__ = ["FORGET_AFTER", "Attempts", "Decision", "ThrottlePolicy", "admit", "delay_after",
           "throttled_error"]

#: A source's attempts are forgotten once it made none for this long: longer than any
#: ``max_delay``, so waiting out the backoff does not earn fresh free attempts, and
#: short enough that yesterday's typos do not slow today's login.
FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How fast one source may try one account.

    Args:
        free_attempts: attempts without any wait (``max_failed_logins``).
        first_delay: wait after the first attempt beyond them (``login_backoff_seconds``).
        max_delay: longest wait between two attempts (``lockout_minutes``); zero turns
            throttling off.
        forget_after: attempts older than this no longer count.
    """

    free_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = FORGET_AFTER


@dataclass(frozen=True)
class Attempts:
    """Attempts counted for one (account, source) since its last success."""

    count: int = 0
    last_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Whether an attempt may be checked now; if so, the count to store before checking."""

    admitted: bool
    attempts: Attempts
    retry_after: timedelta = timedelta(0)


def delay_after(count: int, policy: ThrottlePolicy) -> timedelta:
    """The wait, after ``count`` counted attempts, before the next one is checked."""
    if count < policy.free_attempts:
        return timedelta(0)
    doublings = min(count - policy.free_attempts, 40)  # 2**40 * any delay > any max_delay
    return min(policy.max_delay, policy.first_delay * (1 << doublings))


def admit(previous: Attempts, now: datetime, policy: ThrottlePolicy) -> Decision:
    """Decide on one more attempt at ``now``.

    An admitted attempt is counted at once (it may fail); a refused one is not counted
    and does not extend the wait.
    """
    count = previous.count
    if previous.last_at is None or now - previous.last_at >= policy.forget_after:
        count = 0
    if count and previous.last_at is not None:
        ready = previous.last_at + delay_after(count, policy)
        if now < ready:
            return Decision(False, previous, ready - now)
    return Decision(True, Attempts(count + 1, now))


def throttled_error(retry_after: timedelta) -> RateLimitedError:
    """The error for a refused attempt, telling the caller when to retry (Retry-After)."""
    seconds = max(1, math.ceil(retry_after.total_seconds()))
    if seconds >= 120:
        wait = f"{math.ceil(seconds / 60)} minutes"
    else:
        wait = f"{seconds} second{'' if seconds == 1 else 's'}"
    return RateLimitedError(
        # Not "failed": attempts are counted before the check, so a burst of correct
        # logins (several tabs, a script's workers) is slowed down the same way.
        f"too many login attempts for this account from this address; try again in {wait}",
        details={"retry_after_seconds": seconds},
    )
