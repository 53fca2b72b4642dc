"""Node wake-up: events written in the request's transaction, waiters woken after commit.

``EventHub`` is the one object the server keeps per process; see ``hub`` for the
mechanism (in-process condition variable plus a watcher thread on the database).
"""

from __future__ import annotations

from v6lib.server.events.hub import EventHub
from v6lib.server.events.records import EventRecord, Match

__all__ = ["EventHub", "EventRecord", "Match"]
