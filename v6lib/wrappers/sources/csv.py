"""CSV files, read with pandas (only the requested columns when a selection is given)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from v6lib.errors import DataError

from ..contract import DatabaseSpec
from .base import check_columns, local_path

__all__ = ["SOURCE", "CsvSource"]


class CsvSource:
    """Reads ``spec.uri`` as a comma-separated file with a header row."""

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        path = local_path(spec)
        if columns is None:
            return _read(spec, path)
        try:
            frame = _read(spec, path, usecols=list(columns))
        except DataError:
            # NOTE: the header is read only on failure (one pass over the file otherwise),
            # to name the missing columns and the available ones.
            check_columns(list(_read(spec, path, nrows=0).columns), columns, spec)
            raise
        return frame.loc[:, list(columns)]


def _read(spec: DatabaseSpec, path: object, **kwargs: object) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"database {spec.label!r}: CSV file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"database {spec.label!r}: cannot read CSV file {path}: {exc}") from None


SOURCE = CsvSource()
