"""The source registry, and one contract every built-in source satisfies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from v6lib.errors import DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources import (
    DataSource,
    base,
    get_source,
    known_types,
    load_data,
    register_source,
)


class ConstantSource:
    """A DataSource returning a fixed table (satisfies the Protocol structurally)."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return base.select_columns(self.table, columns, spec)


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_registered", {})


# ------------------------------------------------------------------ contract of every source


def test_source_reads_the_whole_table(any_db: DatabaseSpec, frame: pd.DataFrame) -> None:
    loaded = load_data(any_db)
    assert list(loaded.columns) == list(frame.columns)
    assert loaded["age"].tolist() == [30, 41, 52]
    assert loaded["weight"].tolist() == pytest.approx([70.5, 80.0, 65.25])
    assert loaded["city"].tolist() == ["Leiden", "Utrecht", "Delft"]


def test_source_returns_requested_columns_in_order(any_db: DatabaseSpec) -> None:
    loaded = load_data(any_db, columns=["city", "age"])
    assert list(loaded.columns) == ["city", "age"]
    assert loaded["age"].tolist() == [30, 41, 52]


def test_source_names_missing_columns(any_db: DatabaseSpec) -> None:
    with pytest.raises(DataError, match=r"no column\(s\) 'height'.*available: .*age"):
        load_data(any_db, columns=["age", "height"])


def test_source_names_label_and_path_of_a_missing_file(any_db: DatabaseSpec,
                                                       tmp_path: Path) -> None:
    missing = DatabaseSpec("gone", str(tmp_path / "nothing" / Path(any_db.uri).name),
                           any_db.type, any_db.query)
    with pytest.raises(DataError, match=r"'gone'.*nothing"):
        load_data(missing)


def test_every_builtin_satisfies_the_protocol(any_db: DatabaseSpec) -> None:
    assert isinstance(get_source(any_db.type), DataSource)


# ------------------------------------------------------------------ registry


def test_unknown_type_lists_known_types() -> None:
    with pytest.raises(DataError, match=r"unknown database type 'graphdb'.*csv.*parquet.*sparql"):
        load_data(DatabaseSpec("x", "/x", "graphdb"))


def test_types_are_case_insensitive_and_aliases_resolve() -> None:
    assert get_source("CSV") is get_source("csv")
    assert get_source("xlsx") is get_source("excel")
    assert get_source("sqlite") is get_source("sql")
    assert get_source("omop") is get_source("sql")  # vantage6's OMOP type: read with SQL
    assert {"csv", "parquet", "sql", "sparql", "excel"} <= set(known_types())


def test_register_a_custom_source(clean_registry: None, frame: pd.DataFrame) -> None:
    source = ConstantSource(frame)
    register_source("Memory", source)
    assert "memory" in known_types()
    loaded = load_data(DatabaseSpec("m", "mem://", "memory"), columns=["city"])
    assert loaded["city"].tolist() == ["Leiden", "Utrecht", "Delft"]


def test_registering_twice_names_the_clash(clean_registry: None, frame: pd.DataFrame) -> None:
    register_source("memory", ConstantSource(frame))
    with pytest.raises(ValueError, match=r"'memory' is already registered.*ConstantSource"):
        register_source("memory", ConstantSource(frame))
    replacement = ConstantSource(frame.head(1))
    register_source("memory", replacement, replace=True)
    assert get_source("memory") is replacement


def test_a_registered_source_can_replace_a_builtin(clean_registry: None,
                                                   frame: pd.DataFrame) -> None:
    register_source("csv", ConstantSource(frame))
    assert len(load_data(DatabaseSpec("c", "/does/not/matter.csv", "csv"))) == 3


def test_file_uri_is_accepted(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    assert len(load_data(DatabaseSpec("d", f"file://{path}", "csv"))) == 3
