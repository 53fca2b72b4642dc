"""Principals kept between requests, valid while nothing they were built from changed.

Building a user's principal reads its rules, its roles' rules and its organization's
collaborations: five statements on every request. A principal is instead kept per
(subject, token generation, permissions epoch). The epoch is one ``server_meta`` row
that every transaction changing what a principal is built from rewrites before it
commits (a session hook, so no service can forget it): the next request anywhere, in any
worker, reads the new epoch and builds afresh. A revoked rule thus ends at once.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from itertools import chain
from typing import Any

from sqlalchemy import ScalarSelect, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from v6lib.server.db.models import Collaboration, Node, Organization, Role, Rule, User
from v6lib.server.db.models.meta import ServerMeta
from v6lib.server.permissions.principal import Principal

__all__ = ["EPOCH_KEY", "PrincipalCache", "bump_epoch", "epoch_column", "read_epoch"]

EPOCH_KEY = "permissions_epoch"

# what a principal is built from: a change of any of these attributes ends cached ones
_WATCHED: dict[type, tuple[str, ...]] = {
    User: ("roles", "rules", "organization_id"),
    Role: ("rules", "organization_id"),
    Rule: ("name", "scope", "operation"),
    Collaboration: ("organizations",),
    Node: ("organization_id", "collaboration_id"),
    Organization: (),
}


def epoch_column() -> ScalarSelect[str | None]:
    """The epoch as a column, for reading it in the statement that loads the principal's
    subject (one round trip fewer on every authenticated request); ``None`` means ""."""
    return select(ServerMeta.value).where(ServerMeta.key == EPOCH_KEY).scalar_subquery()


def read_epoch(session: Session) -> str:
    """The current permissions epoch ("" before any change was ever made)."""
    value = session.scalar(select(epoch_column()))
    return value or ""


def bump_epoch(session: Session) -> None:
    """Give the epoch a new value in ``session``'s transaction."""
    # NOTE: through the connection, not the session: this runs inside a flush
    conn = session.connection()
    fresh = uuid.uuid4().hex
    changed = conn.execute(update(ServerMeta).where(ServerMeta.key == EPOCH_KEY)
                           .values(value=fresh))
    if not changed.rowcount:
        conn.execute(insert(ServerMeta).values(key=EPOCH_KEY, value=fresh))


def _changes_permissions(session: Session) -> bool:
    for obj in chain(session.deleted, session.new):
        if isinstance(obj, tuple(_WATCHED)) and (obj in session.deleted
                                                 or isinstance(obj, Collaboration)):
            return True  # a new collaboration changes its members' principals
    for obj in session.dirty:
        names = next((n for kind, n in _WATCHED.items() if isinstance(obj, kind)), ())
        state = inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in names):
            return True
    return False


@event.listens_for(Session, "before_flush")
def _bump_on_permission_change(session: Session, flush_context: Any, instances: Any) -> None:
    if _changes_permissions(session):
        bump_epoch(session)


class PrincipalCache:
    """A bounded, thread-safe map from (subject, generation, epoch) to a principal."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], Principal] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], build: Callable[[], Principal]) -> Principal:
        """The principal kept under ``key``, else ``build()``'s, kept from now on."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        principal = build()
        with self._lock:
            self._items[key] = principal
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return principal
