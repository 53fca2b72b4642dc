"""The algorithm the browser tests run: the federated average of the demo, a summary
table (a DataFrame result), a report (a dict holding frames) and a wait (a task that
stays active until it is killed)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from v6lib.wrappers import data

# NOTE: the nodes start this package in fresh processes; the demo's average comes from
# the example beside it in the repository.
_AVERAGE = str(Path(__file__).resolve().parents[4] / "examples" / "average")
if _AVERAGE not in sys.path:
    sys.path.insert(0, _AVERAGE)

from v6_average import central_average as central_average  # noqa: E402
from v6_average import partial_average as partial_average  # noqa: E402

__all__ = ["central_average", "partial_average", "report", "summary", "wait"]


@data(1)
def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Count, mean and extremes of the numeric columns: a table with an index."""
    return df.describe().loc[["count", "mean", "min", "max"]].round(3)


@data(1)
def report(df: pd.DataFrame) -> dict[str, object]:
    """A count beside two frames, one with a MultiIndex of rows and one of columns."""
    by_sex = df.groupby(["sex", "smoker"]).agg({"bmi": ["mean", "count"]}).round(2)
    return {"rows": len(df), "by_sex": by_sex, "ages": df["age"].describe().round(1)}


def wait(seconds: float) -> float:
    """Nothing for ``seconds``, then the number of seconds."""
    time.sleep(seconds)
    return seconds
