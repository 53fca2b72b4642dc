"""WaiterRegistry: asyncio futures of parked long-polls, woken per key.

Why: waking every waiter on every event made each task creation cost CPU in proportion
to the waiting nodes. Here an event wakes only the futures registered under one of its
``record_keys`` (its task, organization, collaboration, or "everything"), so the cost
of an event is the handful of dictionary look-ups plus the waiters it concerns.

The registry lives on one event loop; the hub calls ``on_events`` from its watcher
thread (or a request thread), which only hands the batch over to the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from v6lib.server.events.parking import record_keys
from v6lib.server.events.records import EventRecord

__all__ = ["WaiterRegistry"]

log = logging.getLogger(__name__)


class WaiterRegistry:
    """Futures waiting for events, by key, on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.closed = False
        self._by_key: dict[str, set[asyncio.Future[bool]]] = {}

    @property
    def waiting(self) -> int:
        """Distinct futures registered now (a future is counted under each of its keys)."""
        return len({future for futures in self._by_key.values() for future in futures})

    def on_events(self, records: list[EventRecord] | None) -> None:
        """Hub listener (any thread): a batch of new events, or None when the hub stops."""
        try:
            self.loop.call_soon_threadsafe(self._dispatch, records)
        except RuntimeError:  # the loop is closed: the worker is exiting
            log.debug("event loop closed; %s not dispatched", "stop" if records is None
                      else f"{len(records)} event(s)")

    def _dispatch(self, records: list[EventRecord] | None) -> None:
        if records is None:
            self.closed = True
            keys: Iterable[str] = list(self._by_key)
        else:
            keys = {key for record in records for key in record_keys(record)}
        for key in keys:
            for future in self._by_key.pop(key, ()):
                if not future.done():
                    future.set_result(True)

    def park(self, keys: frozenset[str], pending: list[EventRecord] | None) -> asyncio.Future[bool]:
        """A future set when an event with one of ``keys`` arrives.

        ``pending`` are the events that arrived since the waiter's cursor (None: not all
        of them are known): one that concerns it sets the future at once, so an event
        between the waiter's last read and this call is not missed.
        """
        future: asyncio.Future[bool] = self.loop.create_future()
        if self.closed or pending is None or any(
                key in keys for record in pending for key in record_keys(record)):
            future.set_result(True)
            return future
        for key in keys:
            self._by_key.setdefault(key, set()).add(future)
        return future

    def unpark(self, keys: frozenset[str], future: asyncio.Future[bool]) -> None:
        """Forget ``future`` (woken, timed out or abandoned)."""
        for key in keys:
            futures = self._by_key.get(key)
            if futures is not None:
                futures.discard(future)
                if not futures:
                    del self._by_key[key]
