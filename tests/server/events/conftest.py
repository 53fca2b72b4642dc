"""Fixtures for the event hub tests: engines on SQLite files and fresh PostgreSQL DBs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.postgres import drop_database, fresh_postgres_url
from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.db.models.event import Event


def _with_table(url: str) -> Engine:
    engine = make_engine(url)
    Event.__table__.create(engine)
    return engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.sqlite'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = _with_table(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = fresh_postgres_url()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = _with_table(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on a SQLite file and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def sessions(any_engine: Engine):
    return make_session_factory(any_engine)
