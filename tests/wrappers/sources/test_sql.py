"""SQL source: SQLite files by path or URL, the query requirement, driver errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from v6lib.errors import DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources.sql import SOURCE, engine_url

from .conftest import write_sqlite


def test_query_on_a_plain_sqlite_path(tmp_path: Path, frame: pd.DataFrame) -> None:
    spec = write_sqlite(frame, tmp_path)
    aggregated = DatabaseSpec("db", spec.uri, "sql",
                              "SELECT city, age * 2 AS double_age FROM patients WHERE age > 35 "
                              "ORDER BY age")
    loaded = SOURCE.load(aggregated)
    assert loaded.to_dict("list") == {"city": ["Utrecht", "Delft"], "double_age": [82, 104]}


def test_sqlalchemy_url(tmp_path: Path, frame: pd.DataFrame) -> None:
    spec = write_sqlite(frame, tmp_path)
    url_spec = DatabaseSpec("db", f"sqlite:///{spec.uri}", "sql", "SELECT COUNT(*) AS n FROM "
                            "patients")
    assert SOURCE.load(url_spec)["n"].tolist() == [3]
    assert engine_url(url_spec) == url_spec.uri
    assert engine_url(spec) == f"sqlite:///{Path(spec.uri).resolve()}"


def test_query_is_required(tmp_path: Path, frame: pd.DataFrame) -> None:
    spec = write_sqlite(frame, tmp_path)
    with pytest.raises(DataError, match="database 'x' of type sql needs a query: pass it with "
                                        "the task's databases or in the node config"):
        SOURCE.load(DatabaseSpec("x", spec.uri, "sql", "  "))


def test_bad_query_carries_the_driver_message(tmp_path: Path, frame: pd.DataFrame) -> None:
    spec = write_sqlite(frame, tmp_path)
    with pytest.raises(DataError, match="'db': the query failed: no such table: nope"):
        SOURCE.load(DatabaseSpec("db", spec.uri, "sql", "SELECT * FROM nope"))


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "absent.sqlite3"
    with pytest.raises(DataError, match=r"'absent'.*does not exist"):
        SOURCE.load(DatabaseSpec("absent", str(target), "sql", "SELECT 1"))
    assert not target.exists()


def test_unknown_dialect(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'u': cannot use") as info:
        SOURCE.load(DatabaseSpec("u", "nosuchdialect://user:secret@host/db", "sql", "SELECT 1"))
    assert "secret" not in str(info.value)
