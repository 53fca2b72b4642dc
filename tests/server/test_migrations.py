"""The packaged migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from v6lib.server.db.base import Base
from v6lib.server.db.engine import make_engine
from v6lib.server.db.migrate import current_revision, head_revision, upgrade_database


def test_migrations_match_models(db_url: str) -> None:
    # Prepare
    engine = make_engine(db_url)
    # Execute
    upgrade_database(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True}), Base.metadata)
    # Assert
    assert diff == []
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"task", "run", "event", "user", "rule", "role", "node"} <= tables
    engine.dispose()


def test_upgrade_twice_is_a_no_op(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade_database(engine)
    first = current_revision(engine)
    upgrade_database(engine)
    assert current_revision(engine) == first is not None
    engine.dispose()
