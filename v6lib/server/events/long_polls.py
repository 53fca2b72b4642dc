"""Fair long-polling: caps on the requests that hold a thread while they wait.

``GET /event`` and ``GET /task/{id}/wait`` with a timeout hold one of the worker's
threads for up to a minute. Without limits, one caller (any user, a Viewer included)
could hold them all and the server would stop answering anything else. So, per worker
process:

* each caller (a user, a node, an algorithm container's run) holds at most
  ``per_caller`` long-polls; more are answered at once with 429 and ``Retry-After``
  (one caller asking for more than its share is misbehaving);
* all callers together hold at most ``slots`` long-polls, fewer than the worker's
  threads (``long_poll_slots``), so some threads always stay free for other requests.
  A poll beyond that is not held: it is answered at once with what there is now (no
  new events, the task as it stands), with ``Retry-After`` as a hint.

Why an immediate answer rather than 503 once the slots are taken: the callers that hold
slots (every node's event stream) ask again the moment they are answered, so a caller
told to come back later finds the slots taken again, every time; with more nodes than
slots, a researcher's or an algorithm's wait was refused until it timed out. Answered at
once, every caller makes progress: it degrades to short polling, which any caller could
do anyway with ``timeout=0``; the clients of this package pause between answers that
came at once without news, so that costs about one request per second per caller.
Why in memory and per process: threads belong to a process, and the check must cost
nothing on the way in.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from v6lib.errors import RateLimitedError
from v6lib.server.permissions.principal import Principal

__all__ = ["RETRY_AFTER_SECONDS", "SHORT_POLL_PAUSE_SECONDS", "LongPollGate", "caller_key",
           "long_poll_slots"]

#: How long a refused long-poll is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5

#: The pause suggested to a poll answered at once because every slot was taken.
SHORT_POLL_PAUSE_SECONDS = 1


def long_poll_slots(threads: int) -> int:
    """Long-polls a worker with ``threads`` threads may hold: a quarter of the threads
    (at least one) is kept for everything else; a single-threaded worker holds none."""
    return max(0, threads - max(1, math.ceil(threads / 4)))


def caller_key(principal: Principal) -> str:
    """Whose long-polls count together: one user, one node, one container run."""
    if principal.is_user:
        return f"user:{principal.user_id}"
    if principal.is_node:
        return f"node:{principal.node_id}"
    return f"container:{principal.run_id}"


class LongPollGate:
    """Counts the long-polls in progress in this process.

    Args:
        slots: most long-polls held at once by the whole process.
        per_caller: most long-polls held at once by one caller.
        retry_after: seconds a refused caller is asked to wait.
    """

    def __init__(self, *, slots: int, per_caller: int = 2,
                 retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.slots = slots
        self.per_caller = per_caller
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()
        self._total = 0

    @property
    def held(self) -> int:
        """Long-polls in progress now."""
        return self._total

    def acquire(self, caller: str) -> bool:
        """Take a slot for ``caller``; False when every slot is taken (answer at once).

        Raises:
            RateLimitedError: ``caller`` already holds ``per_caller`` long-polls.
        """
        with self._lock:
            if self._held[caller] >= self.per_caller:
                raise RateLimitedError(
                    f"too many concurrent long-polls: at most {self.per_caller} per caller "
                    "are held at once; wait for one to return, or retry later",
                    details={"retry_after_seconds": self.retry_after})
            if self._total >= self.slots:
                return False
            self._held[caller] += 1
            self._total += 1
            return True

    def release(self, caller: str) -> None:
        """Give back a slot taken by ``acquire``."""
        with self._lock:
            self._total -= 1
            self._held[caller] -= 1
            if self._held[caller] <= 0:
                del self._held[caller]

    @contextmanager
    def hold(self, caller: str) -> Iterator[bool]:
        """Hold a slot for ``caller`` while the block runs; yields whether it got one.

        ``False`` means every slot is taken: the block must answer without waiting.

        Raises:
            RateLimitedError: ``caller`` already holds ``per_caller`` long-polls.
        """
        if not self.acquire(caller):
            yield False
            return
        try:
            yield True
        finally:
            self.release(caller)
