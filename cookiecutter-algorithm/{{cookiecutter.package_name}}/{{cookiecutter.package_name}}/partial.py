"""The part that runs at each organization, on its own data."""

from __future__ import annotations

from typing import Any

import pandas as pd

from v6lib.errors import DataError
from v6lib.wrappers import data


@data(1)
def partial_statistics(df: pd.DataFrame, column: str) -> dict[str, Any]:
    """Count, sum and sum of squares of the non-missing values of ``column``.

    Only these three numbers leave the organization. The frame is read, never modified.
    """
    if column not in df.columns:
        available = ", ".join(map(str, df.columns))
        raise DataError(f"column {column!r} not found; available columns: {available}")
    values = df[column]
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(f"column {column!r} is not numeric (dtype {values.dtype})")
    values = values.dropna().astype(float)
    return {
        "count": int(values.size),
        "sum": float(values.sum()),
        "sum_of_squares": float((values * values).sum()),
    }
