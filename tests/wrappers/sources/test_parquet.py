"""Parquet source: pyarrow reads only the requested columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from v6lib.errors import DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources import parquet as parquet_source

from .conftest import write_parquet


def test_only_requested_columns_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         frame: pd.DataFrame) -> None:
    spec = write_parquet(frame, tmp_path)
    projected: list[object] = []
    real = pq.read_table

    def spy(path, *, columns=None, **kwargs):
        table = real(path, columns=columns, **kwargs)
        projected.append((columns, table.column_names))
        return table

    monkeypatch.setattr(parquet_source.pq, "read_table", spy)
    loaded = parquet_source.SOURCE.load(spec, columns=["city"])
    assert projected == [(["city"], ["city"])]
    assert loaded["city"].tolist() == ["Leiden", "Utrecht", "Delft"]


def test_dtypes_survive(tmp_path: Path) -> None:
    table = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                          "flag": [True, False], "n": pd.array([1, None], dtype="Int64")})
    loaded = parquet_source.SOURCE.load(write_parquet(table, tmp_path))
    assert loaded.dtypes.to_dict() == table.dtypes.to_dict()


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"definitely not parquet")
    with pytest.raises(DataError, match=r"'b'.*cannot read Parquet"):
        parquet_source.SOURCE.load(DatabaseSpec("b", str(path), "parquet"))
