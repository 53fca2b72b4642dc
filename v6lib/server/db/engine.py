"""Engine and session factory: SQLite tuned for concurrent workers, PostgreSQL pooled."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from v6lib.errors import ConfigurationError
from v6lib.private_files import private_sqlite_file
from v6lib.server.db.writer_queue import QueuedConnection, WriterQueue

__all__ = ["SQLITE_BEGIN_IMMEDIATE", "begin_write", "is_sqlite", "make_engine",
           "make_session_factory", "write_options"]

#: Execution option: start the SQLite transaction with BEGIN IMMEDIATE (take the write
#: lock first). Ignored by other databases.
SQLITE_BEGIN_IMMEDIATE = "v6_sqlite_begin_immediate"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def write_options() -> dict[str, Any]:
    """Execution options for a transaction that will write."""
    return {SQLITE_BEGIN_IMMEDIATE: True}


def begin_write(session: Session) -> None:
    """Start ``session``'s next transaction as a writer (SQLite: ``BEGIN IMMEDIATE``).

    For a request that committed part of its work early and writes again afterwards;
    a no-op while a transaction is open.
    """
    if not session.in_transaction():
        session.connection(execution_options=write_options())


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # NOTE: WAL lets readers proceed while one writer commits; busy_timeout makes
    # gunicorn workers wait for the write lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine for ``url`` with per-backend settings.

    SQLite gets WAL, a busy timeout, enforced foreign keys and a first-come-first-served
    queue of writers (``writer_queue``); PostgreSQL gets a
    bounded pool with pre-ping so connections killed by the database are replaced.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"database url {url!r} is not a valid SQLAlchemy URL") from exc
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            from sqlalchemy.pool import StaticPool

            kwargs["poolclass"] = StaticPool
        else:
            kwargs["poolclass"] = NullPool
            if not parsed.query.get("uri"):
                kwargs["connect_args"]["factory"] = QueuedConnection
                # NOTE: the file (in a data dir that may not exist yet) is created 0600
                # before SQLite opens it: SQLite would make it 0644, and it makes the
                # -wal/-shm/-journal files with the main file's mode.
                private_sqlite_file(Path(parsed.database or "").expanduser())
        engine = create_engine(url, echo=echo, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        # NOTE: pysqlite's own transaction handling defers BEGIN; issuing it ourselves
        # makes SELECT ... then UPDATE inside one request a real transaction.
        event.listen(engine, "connect", _disable_pysqlite_begin)
        queue = (None if memory or parsed.query.get("uri")
                 else WriterQueue(Path(f"{parsed.database}-writer").expanduser()))
        event.listen(engine, "begin", partial(_emit_begin, queue))
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(
        url, echo=echo, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=1800
    )


def _disable_pysqlite_begin(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None


def _emit_begin(queue: WriterQueue | None, conn: Any) -> None:
    # NOTE: a deferred transaction that reads and then writes fails at once with
    # "database is locked" when another connection wrote in between (SQLite cannot
    # upgrade a stale snapshot). Writers therefore ask for BEGIN IMMEDIATE, after
    # waiting for their turn in the writer queue (busy_timeout covers the rest).
    immediate = conn.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False)
    if immediate and queue is not None:
        dbapi = conn.connection.dbapi_connection
        if isinstance(dbapi, QueuedConnection) and dbapi.turn is None and queue.acquire():
            dbapi.turn = queue  # ended by the connection's COMMIT or ROLLBACK
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (we serialize after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
