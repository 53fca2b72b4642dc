"""Excel source: sheets chosen by the query, columns selected after reading."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from v6lib.errors import DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources.excel import SOURCE


@pytest.fixture
def workbook(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["cover"]}).to_excel(writer, sheet_name="cover", index=False)
        frame.to_excel(writer, sheet_name="patients", index=False)
    return path


def test_first_sheet_by_default(workbook: Path) -> None:
    assert SOURCE.load(DatabaseSpec("x", str(workbook), "excel"))["note"].tolist() == ["cover"]


def test_query_names_the_sheet(workbook: Path) -> None:
    loaded = SOURCE.load(DatabaseSpec("x", str(workbook), "excel", "patients"),
                         columns=["age"])
    assert loaded.to_dict("list") == {"age": [30, 41, 52]}


def test_missing_sheet(workbook: Path) -> None:
    with pytest.raises(DataError, match="'x': cannot read sheet 'visits'"):
        SOURCE.load(DatabaseSpec("x", str(workbook), "excel", "visits"))


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("plain text")
    with pytest.raises(DataError, match="'f': cannot read"):
        SOURCE.load(DatabaseSpec("f", str(path), "excel"))
