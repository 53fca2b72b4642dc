"""The packaged migrations build exactly the schema the models describe."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.server.conftest import Api, build_app
from v6lib.server.auth.passwords import TEST_COST, hash_secret
from v6lib.server.db.base import Base
from v6lib.server.db.engine import make_engine
from v6lib.server.db.migrate import current_revision, head_revision, upgrade_database

_T = datetime(2030, 1, 1, tzinfo=UTC)


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


def test_old_node_keys_are_kept_out_after_the_upgrade(db_url: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Revision 0004 drops the SHA-256 lookup digest: old keys must be reset."""
    # Prepare: a node with a key of the old format, written at revision 0003
    engine = make_engine(db_url)
    upgrade_database(engine, "0003")
    old_key = "b" * 43
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organization (name, created_at) VALUES ('o', :t)"),
                     {"t": _T})
        conn.execute(text("INSERT INTO collaboration (name, encrypted, created_at) "
                          "VALUES ('c', false, :t)"), {"t": _T})
        conn.execute(text(
            "INSERT INTO node (name, organization_id, collaboration_id, api_key_lookup, "
            "api_key_hash, status, created_at) VALUES ('n', 1, 1, :lookup, :hash, "
            "'offline', :t)"),
            {"lookup": hashlib.sha256(old_key.encode()).hexdigest()[:32],
             "hash": hash_secret(old_key, cost=TEST_COST), "t": _T})
    engine.dispose()
    # Execute
    with caplog.at_level(logging.WARNING, logger="v6lib.server"):
        app = build_app(db_url)
    try:
        login = Api(app).post("/token/node", json={"api_key": old_key})
        with app.v6_state.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM node")).mappings().one()
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()
    # Assert
    assert "api_key_lookup" not in row and row["api_key_selector"] is None
    assert login.status_code == 401 and "ask an administrator" in login.json["message"]
    assert any("1 node(s) have an API key of the old format" in r.getMessage()
               for r in caplog.records)


def test_auth_hardening_downgrades_and_upgrades_again(db_url: str) -> None:
    from alembic import command

    from v6lib.server.db.migrate import alembic_config

    engine = make_engine(db_url)
    upgrade_database(engine)
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")
    assert current_revision(engine) == "0003"
    columns = {c["name"] for c in inspect(engine).get_columns("node")}
    assert "api_key_lookup" in columns and "api_key_selector" not in columns
    assert "login_failure" in inspect(engine).get_table_names()
    upgrade_database(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True}), Base.metadata) == []
    engine.dispose()
