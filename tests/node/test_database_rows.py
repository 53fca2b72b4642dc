"""Row counts of the node's file databases, for the row-level disclosure rule."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from v6lib.node.database_rows import DatabaseRows
from v6lib.node.runtime.base import JobDatabase


def test_csv_and_parquet_rows_are_counted_and_recounted_after_a_change(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("x,y\n1,2\n3,4\n5,6")  # no newline after the last row
    parquet = tmp_path / "b.parquet"
    pd.DataFrame({"x": range(7)}).to_parquet(parquet)
    rows = DatabaseRows()
    databases = [JobDatabase("a", str(csv), "csv"), JobDatabase("b", str(parquet), "parquet"),
                 JobDatabase("c", "postgresql://db/x", "sql"),
                 JobDatabase("d", str(tmp_path / "gone.csv"), "csv")]
    assert rows.counts(databases) == (3, 7)
    csv.write_text("x,y\n1,2\n")
    os.utime(csv, ns=(1, 1))
    assert rows.counts(databases[:1]) == (1,)
