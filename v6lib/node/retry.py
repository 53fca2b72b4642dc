"""Exponential backoff with jitter, in one place, for every retrying loop of the node.

Why full jitter: many nodes that lost the server at the same moment must not hammer it
in lock-step when it comes back; a random delay in ``[0, cap]`` spreads them out.
Time and randomness are injected so tests run instantly and deterministically.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from v6lib.errors import ServerUnavailableError, V6Error

__all__ = ["Backoff", "is_transient", "retry_call"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays ``min(max_delay, base * factor**attempt)``, scaled by a random factor.

    ``jitter`` is the fraction of the delay that is randomized: 1.0 is "full jitter"
    (uniform in ``[0, cap]``), 0.0 is plain exponential backoff.
    """

    base: float = 0.5
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: float = 1.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The delay before retry number ``attempt`` (0-based)."""
        cap = min(self.max_delay, self.base * self.factor ** min(attempt, 64))
        return cap * (1.0 - self.jitter) + cap * self.jitter * rng()

    def delays(self, rng: Callable[[], float] = random.random) -> Iterator[float]:
        """An endless sequence of delays."""
        attempt = 0
        while True:
            yield self.delay(attempt, rng)
            attempt += 1


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the server is away, or answered with an unexpected 5xx."""
    if isinstance(exc, ServerUnavailableError):
        return True
    return type(exc) is V6Error  # an unmapped status, e.g. a 500 from a busy database


def retry_call(
    fn: Callable[[], T],
    *,
    backoff: Backoff | None = None,
    retry_on: tuple[type[BaseException], ...] = (ServerUnavailableError,),
    max_attempts: int | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], object] | None = None,
    rng: Callable[[], float] = random.random,
    what: str = "request",
    retry_if: Callable[[BaseException], bool] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, sleeping with backoff between failures.

    Only exceptions in ``retry_on`` (or for which ``retry_if`` is true) are retried;
    anything else propagates at once.
    When ``max_attempts`` is reached, or ``stop`` is set while waiting, the last
    exception is re-raised, so a caller can never mistake giving up for success.
    """
    backoff = backoff or Backoff()
    attempt = 0
    while True:
        try:
            return fn()
        except BaseException as exc:
            if not isinstance(exc, retry_on) and not (retry_if is not None and retry_if(exc)):
                raise
            attempt += 1
            if max_attempts is not None and attempt >= max_attempts:
                raise
            if stop is not None and stop.is_set():
                raise
            delay = backoff.delay(attempt - 1, rng)
            log.warning("%s failed (%s); retry %d in %.1f s", what, exc, attempt, delay)
            if sleep is not None:
                sleep(delay)
            elif stop is not None:
                if stop.wait(delay):
                    raise
            else:
                threading.Event().wait(delay)
