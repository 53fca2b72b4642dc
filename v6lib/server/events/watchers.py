"""The per-process watcher threads that notice events committed by other processes.

Each loop reconnects after database errors and exits when ``stop`` is set. They call
back into the hub (``refresh``, ``maybe_prune``) and hold one connection of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Connection, Engine

from v6lib.server.events.records import CHANNEL

__all__ = ["WatchedHub", "listen_postgres", "poll_database"]


class WatchedHub(Protocol):
    """What a watcher needs of the hub it keeps up to date."""

    engine: Engine
    poll_interval: float

    @property
    def has_gap(self) -> bool: ...

    def refresh(self, conn: Connection) -> None: ...

    def maybe_prune(self) -> None: ...

log = logging.getLogger(__name__)

#: Longest a LISTEN wait blocks; bounds how long ``stop`` takes on PostgreSQL.
LISTEN_TIMEOUT = 0.25
#: Re-read the table this often on PostgreSQL even without NOTIFY (missed notifications).
SAFETY_REFRESH = 1.0
_RETRY = 0.5


def poll_database(hub: WatchedHub, stop: threading.Event, poke: threading.Event) -> None:
    """SQLite (and other backends): check for new ids every ``poll_interval``.

    ``poke`` is set after a local commit, so in-process waiters do not wait for the tick.
    """
    while not stop.is_set():
        try:
            with hub.engine.connect() as conn:
                probe = _change_probe(conn)
                seen = None
                while not stop.is_set():
                    poke.wait(hub.poll_interval)
                    poke.clear()
                    if stop.is_set():
                        break
                    version = probe()
                    if version is None or version != seen or hub.has_gap:
                        seen = version
                        hub.refresh(conn)
                        conn.rollback()  # end the read transaction: WAL snapshots are per txn
                    hub.maybe_prune()
        except Exception:
            log.warning("event watcher lost the database; reconnecting", exc_info=True)
            stop.wait(_RETRY)


def listen_postgres(hub: WatchedHub, stop: threading.Event, poke: threading.Event) -> None:
    """PostgreSQL: LISTEN on the hub's channel and read new rows when notified."""
    import psycopg

    conninfo = hub.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with (
                psycopg.connect(conninfo, autocommit=True) as listener,
                hub.engine.connect() as conn,
            ):
                listener.execute(f"LISTEN {CHANNEL}")
                _refresh(hub, conn)  # catch up on whatever happened while not listening
                last_refresh = time.monotonic()
                while not stop.is_set():
                    timeout = hub.poll_interval if hub.has_gap else LISTEN_TIMEOUT
                    notified = False
                    for _ in listener.notifies(timeout=timeout, stop_after=1):
                        notified = True
                    poke.clear()
                    if stop.is_set():
                        break
                    now = time.monotonic()
                    if notified or hub.has_gap or now - last_refresh >= SAFETY_REFRESH:
                        _refresh(hub, conn)
                        last_refresh = now
                    hub.maybe_prune()
        except Exception:
            log.warning("event listener lost PostgreSQL; reconnecting", exc_info=True)
            stop.wait(_RETRY)


def _change_probe(conn: Connection) -> Callable[[], object]:
    """A near-free "did anyone commit?" check; SQLite's data_version, else always yes."""
    if conn.dialect.name != "sqlite":
        return lambda: None
    raw = conn.connection.dbapi_connection
    assert raw is not None

    def data_version() -> object:
        # NOTE: changes whenever another connection commits to the file (cheaper than
        # a transaction plus a query through SQLAlchemy, 50 times a second).
        return raw.execute("PRAGMA data_version").fetchone()[0]

    return data_version


def _refresh(hub: WatchedHub, conn: Connection) -> None:
    hub.refresh(conn)
    conn.rollback()
