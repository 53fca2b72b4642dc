"""Parquet files, read with pyarrow; only the requested columns are read from disk."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from v6lib.errors import DataError

from ..contract import DatabaseSpec
from .base import check_columns, local_path

__all__ = ["SOURCE", "ParquetSource"]


class ParquetSource:
    """Reads ``spec.uri`` as a Parquet file with column projection."""

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        path = local_path(spec)
        try:
            table = pq.read_table(path, columns=list(columns) if columns is not None else None)
        except (pa.ArrowException, OSError) as exc:
            if columns is not None:
                # NOTE: the schema is read only on failure (one open otherwise), to name
                # the missing columns and the available ones.
                with contextlib.suppress(pa.ArrowException, OSError):
                    names = pq.read_schema(path).names
                    check_columns(names, columns, spec)
            raise DataError(
                f"database {spec.label!r}: cannot read Parquet file {path}: {exc}"
            ) from None
        return table.to_pandas()


SOURCE = ParquetSource()
