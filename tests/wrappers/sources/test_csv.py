"""CSV source: pandas with usecols when columns are given."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from v6lib.errors import DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources import csv as csv_source

from .conftest import write_csv


def test_usecols_is_passed_to_pandas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     frame: pd.DataFrame) -> None:
    calls: list[dict[str, object]] = []
    real = pd.read_csv

    def spy(path, **kwargs):
        calls.append(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(csv_source.pd, "read_csv", spy)
    loaded = csv_source.SOURCE.load(write_csv(frame, tmp_path), columns=["weight"])
    assert list(loaded.columns) == ["weight"]
    assert calls == [{"usecols": ["weight"]}]  # one pass over the file


def test_a_bad_csv_with_columns_stays_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text('a,b\n1,"2\n')
    with pytest.raises(DataError, match="cannot read CSV file"):
        csv_source.SOURCE.load(DatabaseSpec("r", str(path), "csv"), columns=["a"])


def test_empty_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"'e'.*empty"):
        csv_source.SOURCE.load(DatabaseSpec("e", str(path), "csv"))


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a file"):
        csv_source.SOURCE.load(DatabaseSpec("d", str(tmp_path), "csv"))
