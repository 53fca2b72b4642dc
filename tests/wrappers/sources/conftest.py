"""Write one table in every supported database type, so each source can be checked alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from v6lib.wrappers.contract import DatabaseSpec

EX = "http://example.org/"


def write_csv(table: pd.DataFrame, folder: Path) -> DatabaseSpec:
    path = folder / "data.csv"
    table.to_csv(path, index=False)
    return DatabaseSpec("db", str(path), "csv")


def write_parquet(table: pd.DataFrame, folder: Path) -> DatabaseSpec:
    path = folder / "data.parquet"
    table.to_parquet(path, index=False)
    return DatabaseSpec("db", str(path), "parquet")


def write_sqlite(table: pd.DataFrame, folder: Path) -> DatabaseSpec:
    path = folder / "data.sqlite3"
    with sqlite3.connect(path) as connection:
        table.to_sql("patients", connection, index=False)
    connection.close()
    columns = ", ".join(table.columns)
    return DatabaseSpec("db", str(path), "sql", f"SELECT {columns} FROM patients ORDER BY rowid")


def write_excel(table: pd.DataFrame, folder: Path) -> DatabaseSpec:
    path = folder / "data.xlsx"
    table.to_excel(path, index=False, sheet_name="patients")
    return DatabaseSpec("db", str(path), "excel")


def turtle(table: pd.DataFrame) -> str:
    """The table as RDF: one subject per row, one predicate per column."""
    lines = [f"@prefix ex: <{EX}> .", "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> ."]
    for i, row in enumerate(table.itertuples(index=False)):
        values = []
        for column, value in zip(table.columns, row, strict=True):
            if isinstance(value, str):
                literal = f'"{value}"'
            elif float(value).is_integer() and table[column].dtype.kind == "i":
                literal = f'"{int(value)}"^^xsd:integer'
            else:
                literal = f'"{value}"^^xsd:double'
            values.append(f"ex:{column} {literal}")
        lines.append(f"ex:row{i} ex:index {i} ; " + " ; ".join(values) + " .")
    return "\n".join(lines) + "\n"


def write_turtle(table: pd.DataFrame, folder: Path) -> DatabaseSpec:
    path = folder / "data.ttl"
    path.write_text(turtle(table), encoding="utf-8")
    select = " ".join(f"?{c}" for c in table.columns)
    patterns = " ".join(f"?row ex:{c} ?{c} ." for c in table.columns)
    query = (f"PREFIX ex: <{EX}> SELECT {select} WHERE {{ ?row ex:index ?i . {patterns} }} "
             "ORDER BY ?i")
    return DatabaseSpec("db", str(path), "sparql", query)


WRITERS: dict[str, Callable[[pd.DataFrame, Path], DatabaseSpec]] = {
    "csv": write_csv,
    "parquet": write_parquet,
    "sql": write_sqlite,
    "sparql": write_turtle,
    "excel": write_excel,
}


@pytest.fixture(params=sorted(WRITERS))
def any_db(request: pytest.FixtureRequest, tmp_path: Path, frame: pd.DataFrame) -> DatabaseSpec:
    """The ``frame`` fixture stored in each database type in turn."""
    return WRITERS[request.param](frame, tmp_path)
