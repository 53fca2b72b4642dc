"""Bring a database to the newest schema with the packaged Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.orm import Session

__all__ = ["alembic_config", "current_revision", "head_revision", "migrated_session",
           "upgrade_database"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration; safe to call on every start.

    Run it once before workers start (the CLI does so in the gunicorn master), so
    concurrent workers never race on DDL.
    """
    cfg = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # NOTE: SQLite's procedure for rebuilding tables: foreign keys off outside
            # the transaction (dropping a parent table would otherwise cascade to its
            # children), checked before the commit, and on again for everyone else.
            connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_keys=OFF")
        with connection.begin():
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@contextmanager
def migrated_session(url: str) -> Iterator[Session]:
    """A session on the database at ``url``, migrated first; the caller commits.

    For work on the database without a running server (``v6 server import``,
    ``v6 dev create-demo-network``).
    """
    from v6lib.server.db.engine import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
