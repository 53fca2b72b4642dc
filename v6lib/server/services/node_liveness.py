"""Whether a node is online: when it was last seen, and recording that it was.

One rule with one owner: logins, authenticated requests and node listings all decide
"seen recently" here. A node is recorded as seen at most every ``node_seen_every`` (a
write per request would make every event poll a writer) and shown ``offline`` once
nothing was seen for ``node_offline_after``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import datetime

from sqlalchemy import Engine, bindparam, update
from sqlalchemy.exc import OperationalError

from v6lib.server.db.engine import write_options
from v6lib.server.db.models import Node
from v6lib.server.services.context import ServiceSettings

__all__ = ["mark_seen", "node_status", "record_sighting", "sighting_due"]

log = logging.getLogger("v6lib.server")


def node_status(node: Node, now: datetime, settings: ServiceSettings) -> str:
    """``online`` while the node was seen recently; otherwise ``offline``."""
    if node.last_seen_at is None:
        return "offline"
    return "online" if now - node.last_seen_at < settings.node_offline_after else "offline"


def sighting_due(node: Node, now: datetime, settings: ServiceSettings) -> bool:
    """Whether this request should record the node as seen (not too often)."""
    return node.last_seen_at is None or now - node.last_seen_at >= settings.node_seen_every


def mark_seen(node: Node, now: datetime) -> None:
    """Record the sighting in the caller's own transaction."""
    node.last_seen_at = now
    node.status = "online"


def record_sighting(engine: Engine, node_id: int, now: datetime) -> None:
    """Record the sighting in a short write transaction of its own.

    NOTE: kept out of the request's transaction so that read-only requests (event
    polls) stay read-only, which SQLite needs to run them concurrently.

    Sightings group-commit: while one request writes, the sightings of the others that
    arrive meanwhile are left to it, which writes them all in its next transaction
    before it returns. A burst of a thousand nodes polling at once (after a restart,
    or their polls timing out together) then costs a few write transactions, not a
    thousand queued for the database's one writer. A lone request writes its own
    at once, so a node is shown online as soon as its request was answered.
    """
    _writer(engine).record(node_id, now)


class _SightingWriter:
    """The sightings of one engine waiting to be written, and whether one is writing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._pending: dict[int, datetime] = {}
        self._writing = False

    def record(self, node_id: int, now: datetime) -> None:
        with self._lock:
            self._pending[node_id] = now
            if self._writing:
                return  # the writing request takes this one along
            self._writing = True
        try:
            while batch := self._take():
                self._write(batch)
        finally:
            with self._lock:
                self._writing = False

    def _take(self) -> dict[int, datetime]:
        with self._lock:
            batch, self._pending = self._pending, {}
            return batch

    def _write(self, batch: dict[int, datetime]) -> None:
        try:
            with self.engine.connect().execution_options(**write_options()) as conn:
                conn.execute(
                    update(Node).where(Node.id == bindparam("node_id"))
                    .values(last_seen_at=bindparam("seen_at"), status="online"),
                    [{"node_id": node, "seen_at": at} for node, at in batch.items()])
                conn.commit()
        except OperationalError:  # a busy database must not fail the node's request
            log.warning("could not record that %d node(s) were seen", len(batch),
                        exc_info=True)


_writers: weakref.WeakKeyDictionary[Engine, _SightingWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(engine: Engine) -> _SightingWriter:
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = _SightingWriter(engine)
        return writer
