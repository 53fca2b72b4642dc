"""The part that runs at each organization, on its own data."""

from __future__ import annotations

from typing import Any

import pandas as pd

from v6lib.errors import DataError
from v6lib.wrappers import data, from_argument


@data(1, columns=from_argument("column"))
def partial_statistics(df: pd.DataFrame, column: str) -> dict[str, Any]:
    """Count, sum and sum of squares of the non-missing values of ``column``.

    Only these three numbers leave the organization. ``df`` holds just ``column``: the
    wrapper reads no other column, and refuses a column the data lacks (naming the
    available ones). The frame is read, never modified.
    """
    values = df[column]
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(f"column {column!r} is not numeric (dtype {values.dtype})")
    values = values.dropna().astype(float)
    return {
        "count": int(values.size),
        "sum": float(values.sum()),
        "sum_of_squares": float((values * values).sum()),
    }
