"""@database_connection: open SQL connections for the call, closed after it."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from v6lib.errors import DataError
from v6lib.wrappers import database_connection, metadata
from v6lib.wrappers.context import AlgorithmContext, use_context
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.dispatch import dispatch
from v6lib.wrappers.metadata import RunMetadata


@pytest.fixture
def sqlite_spec(tmp_path: Path) -> DatabaseSpec:
    path = tmp_path / "patients.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE patients (age INTEGER)")
        db.executemany("INSERT INTO patients VALUES (?)", [(30,), (40,), (50,)])
    return DatabaseSpec(label="clinic", uri=str(path), type="sql", query="SELECT * FROM patients")


def test_connection_and_its_database_come_first(sqlite_spec: DatabaseSpec) -> None:
    seen = []

    @database_connection(types=["sql"])
    def partial_count(connection, database, table):
        seen.append(connection)
        count = connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
        return {"label": database.label, "query": database.query, "count": count}

    with use_context(AlgorithmContext(databases=[sqlite_spec])):
        result = partial_count("patients")

    assert result == {"label": "clinic", "query": "SELECT * FROM patients", "count": 3}
    assert seen[0].closed  # closed once the function returned


def test_without_metadata_and_stacked_with_metadata(sqlite_spec: DatabaseSpec) -> None:
    @metadata
    @database_connection(types=["SQL"], include_metadata=False)
    def partial(meta, connection, minimum):
        query = text("SELECT COUNT(*) FROM patients WHERE age >= :m")
        return meta.task_id, connection.execute(query, {"m": minimum}).scalar_one()

    context = AlgorithmContext(databases=[sqlite_spec], metadata=RunMetadata(task_id=4))
    with use_context(context):
        assert partial(40) == (4, 2)
    assert dispatch(sys.modules[__name__], {"method": "partial_via_dispatch"},
                    context) == 3


@database_connection(types=["sql"], include_metadata=False)
def partial_via_dispatch(connection):
    return connection.execute(text("SELECT COUNT(*) FROM patients")).scalar_one()


def test_too_few_or_wrong_databases_are_data_errors(sqlite_spec: DatabaseSpec) -> None:
    @database_connection(types=["sql", "sql"])
    def two(first, first_db, second, second_db):
        return None

    @database_connection(types=["sql"])
    def one(connection, database):
        return None

    with use_context(AlgorithmContext(databases=[sqlite_spec])), \
            pytest.raises(DataError, match="asks for 2 database"):
        two()
    csv = DatabaseSpec(label="default", uri="/data.csv", type="csv")
    with use_context(AlgorithmContext(databases=[csv])), \
            pytest.raises(DataError, match=r"sql connection to database 'default'.*type csv"):
        one()


@pytest.mark.parametrize("types", [[], ["OMOP"], "sql"])
def test_types_v6lib_cannot_connect_to_are_refused_at_decoration(types: object) -> None:
    with pytest.raises(ValueError, match="each one of \\['sql'\\]"):
        database_connection(types=types)  # type: ignore[arg-type]
