"""Throw-away PostgreSQL databases for tests marked ``postgres``.

``V6_TEST_POSTGRES_URL`` points at a server where the role may create databases
(``bash .ci/postgres.sh && source .ci/postgres.env`` sets one up). Each call of
``fresh_postgres_url`` creates a uniquely named, empty database, so tests never see each
other's rows; ``drop_database`` removes it again.
"""

from __future__ import annotations

import os
import time
import uuid

from sqlalchemy.engine import URL, make_url

__all__ = ["ENV_VAR", "base_postgres_url", "drop_database", "fresh_postgres_url"]

ENV_VAR = "V6_TEST_POSTGRES_URL"
_PREFIX = "v6t_"


def base_postgres_url() -> URL:
    """The configured server URL (as ``postgresql+psycopg``), or a clear error."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        raise RuntimeError(
            f"PostgreSQL tests need {ENV_VAR}; run .ci/postgres.sh (then `source .ci/postgres.env`)"
        )
    url = make_url(raw)
    if url.get_backend_name() != "postgresql":
        raise RuntimeError(f"{ENV_VAR} must be a postgresql URL, got {url.drivername!r}")
    return url.set(drivername="postgresql+psycopg")


def _admin_conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_postgres_url() -> str:
    """Create an empty database with a unique name and return its SQLAlchemy URL."""
    import psycopg

    base = base_postgres_url()
    name = f"{_PREFIX}{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_admin_conninfo(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by ``fresh_postgres_url`` (closing its other connections)."""
    import psycopg

    target = make_url(url)
    name = target.database or ""
    if not name.startswith(_PREFIX):
        raise RuntimeError(f"refusing to drop {name!r}: not made by fresh_postgres_url")
    # NOTE: FORCE cannot end an autovacuum worker (a superuser's process) that a big
    # delete may have started on the database; it finishes within moments, so retry.
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(_admin_conninfo(base_postgres_url()), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
