"""The part of the federated average that runs on one organization's data."""

from __future__ import annotations

from typing import Any

import pandas as pd

from v6lib.errors import DataError
from v6lib.wrappers import data, from_argument


def column_values(df: pd.DataFrame, column: str) -> pd.Series:
    """The numeric values of ``column``, or a DataError a researcher can act on.

    The wrapper already refused a column the data lacks (naming the available ones).
    """
    values = df[column]
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(f"column {column!r} is not numeric (dtype {values.dtype}); pick another")
    return values


@data(1, columns=from_argument("column"))
def partial_average(df: pd.DataFrame, column: str) -> dict[str, Any]:
    """Sum and number of non-missing values of ``column``: all that leaves the organization.

    Only ``column`` is read from the database (``from_argument``): a Parquet or CSV
    source skips every other column. The frame is read, never modified: under the
    MockNetwork it is shared between runs.
    """
    values = column_values(df, column)
    return {"sum": float(values.sum()), "count": int(values.count())}
