"""Parked long-polls: what a wait resource tells the event-loop front to wait for.

Why: a long-poll held in a thread costs that thread for up to a minute, so a worker
with 8 threads served at most 6 waiting nodes. Under the event-loop front
(``v6lib.server.asgi``) a wait resource does all its synchronous work (authentication,
reading the database) in a pool thread with a timeout of 0 and answers at once; when
there is nothing to tell yet it *arms* the request's ``Park`` with the keys of the events
that concern the caller. The front then keeps the request on its event loop, which
costs no thread, and runs the resource again only when an event with one of those keys
arrives (``WaiterRegistry``), or answers with the last reply at the deadline.

The keys are one rule shared by both sides: ``record_keys`` (what an event concerns)
and the resource's wait keys must meet for every event the caller may receive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from v6lib.server.events.long_polls import LongPollGate
from v6lib.server.events.records import EventRecord

__all__ = ["EVERYTHING", "SCOPE_KEY", "Park", "collaboration_key", "organization_key",
           "parked", "record_keys", "task_key"]

#: Where the front puts the request's ``Park`` in the ASGI scope.
SCOPE_KEY = "v6.park"

#: The key of a waiter that may receive any event.
EVERYTHING = "*"


def task_key(task_id: int) -> str:
    return f"task:{task_id}"


def organization_key(organization_id: int) -> str:
    return f"organization:{organization_id}"


def collaboration_key(collaboration_id: int) -> str:
    return f"collaboration:{collaboration_id}"


def record_keys(record: EventRecord) -> tuple[str, ...]:
    """Every key whose waiters an event may concern."""
    keys = [EVERYTHING, task_key(record.task_id)]
    if record.organization_id is not None:
        keys.append(organization_key(record.organization_id))
    if record.collaboration_id is not None:
        keys.append(collaboration_key(record.collaboration_id))
    return tuple(keys)


class Park:
    """One long-poll's request to be held on the event loop.

    Args:
        resume: the cursor the previous run of the same request ended at (None on the
            first run); ``GET /event`` continues from it.
    """

    def __init__(self, resume: int | None = None) -> None:
        self.resume = resume
        self.armed = False
        self.keys: frozenset[str] = frozenset()
        self.cursor = 0
        self.timeout = 0.0
        self._slot: tuple[LongPollGate, str] | None = None

    def wait_on(self, gate: LongPollGate, caller: str, keys: Iterable[str], *,
                cursor: int, timeout: float) -> bool:
        """Ask the front to hold the request; False when the gate has no slot left.

        The caller's slot is taken on the first run and kept until the front answers,
        so the per-caller limit holds as it does for threads.

        Raises:
            RateLimitedError: ``caller`` already holds its share of long-polls.
        """
        if self._slot is None:
            if not gate.acquire(caller):
                return False
            self._slot = (gate, caller)
        self.keys = frozenset(keys)
        self.cursor = cursor
        self.timeout = timeout
        self.armed = True
        return True

    def again(self) -> Park:
        """The park for the next run of the same request (keeps the slot)."""
        follow = Park(resume=self.cursor)
        follow._slot, self._slot = self._slot, None
        return follow

    def release(self) -> None:
        """Give the slot back (the front answered or the client went away)."""
        if self._slot is not None:
            gate, caller = self._slot
            self._slot = None
            gate.release(caller)


def parked(environ: Mapping[str, Any]) -> Park | None:
    """The request's ``Park`` when it came through the event-loop front, else None.

    Only the front can set it: it lives in the ASGI scope, which no header reaches.
    """
    scope = environ.get("asgi.scope")
    park = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
    return park if isinstance(park, Park) else None
