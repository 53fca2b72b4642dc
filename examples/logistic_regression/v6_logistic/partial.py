"""One organization's share of a Newton step: gradient and Hessian at given coefficients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from v6lib.errors import DataError, PrivacyError
from v6lib.wrappers import data, from_argument

#: Fewer complete rows than this and an organization refuses to share its Hessian, which
#: for very small samples reveals too much about individual records.
MIN_ROWS = 10


def design(df: pd.DataFrame, features: list[str], outcome: str) -> tuple[np.ndarray, np.ndarray]:
    """Intercept-first design matrix and 0/1 outcome, on complete rows only."""
    wanted = [*features, outcome]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        available = ", ".join(map(str, df.columns))
        raise DataError(f"column(s) {missing} not found; available columns: {available}")
    for column in wanted:
        if not pd.api.types.is_numeric_dtype(df[column]):
            raise DataError(f"column {column!r} is not numeric (dtype {df[column].dtype})")
    complete = df[wanted].dropna()
    y = complete[outcome].to_numpy(dtype=float)
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataError(f"outcome {outcome!r} must be coded 0/1")
    x = np.column_stack([np.ones(len(complete)), complete[features].to_numpy(dtype=float)])
    return x, y


@data(1, columns=from_argument("features", "outcome"))
def partial_newton(
    df: pd.DataFrame, features: list[str], outcome: str, coefficients: list[float]
) -> dict[str, Any]:
    """Gradient, Hessian (of the negative log-likelihood's curvature) and log-likelihood.

    Only the ``features`` and ``outcome`` columns are read from the database.

    Returns:
        ``{"gradient": [p], "hessian": [[p x p]], "loglik": float, "count": int}`` with
        ``p = len(features) + 1`` (intercept first).
    """
    x, y = design(df, features, outcome)
    if len(y) < MIN_ROWS:
        raise PrivacyError(
            f"only {len(y)} complete row(s) here; at least {MIN_ROWS} are needed to share "
            "a gradient and Hessian"
        )
    beta = np.asarray(coefficients, dtype=float)
    if beta.shape != (x.shape[1],):
        raise DataError(f"expected {x.shape[1]} coefficients (intercept first), got {beta.size}")
    eta = x @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    weights = p * (1.0 - p)
    return {
        "gradient": (x.T @ (y - p)).tolist(),
        "hessian": (x.T @ (x * weights[:, None])).tolist(),
        "loglik": float(np.sum(y * eta - np.logaddexp(0.0, eta))),
        "count": len(y),
    }
