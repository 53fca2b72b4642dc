"""Whether a node is online: when it was last seen, and recording that it was.

One rule with one owner: logins, authenticated requests and node listings all decide
"seen recently" here. A node is recorded as seen at most every ``node_seen_every`` (a
write per request would make every event poll a writer) and shown ``offline`` once
nothing was seen for ``node_offline_after``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, update
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
    """
    try:
        with engine.connect().execution_options(**write_options()) as conn:
            conn.execute(update(Node).where(Node.id == node_id)
                         .values(last_seen_at=now, status="online"))
            conn.commit()
    except OperationalError:  # a busy database must not fail the node's request
        log.warning("could not record that node %s was seen", node_id, exc_info=True)
