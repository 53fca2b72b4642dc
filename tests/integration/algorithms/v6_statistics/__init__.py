"""Statistics whose values survive only an exact codec, for the parity tests.

A partial returns what analysts return: grouped counts and a grouped aggregate with a
list of functions (MultiIndex rows and columns), a crosstab with axis names, age bands
(categoricals over intervals), an ``np.int32`` count and a ``float32`` matrix. The
central function returns the partials as it received them, keyed by organization id,
and their combination. :func:`nested_statistics` puts one more central level on top,
so the same values also cross two levels of subtasks. The columns used exist at every
site of the parity data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from v6lib.wrappers import algorithm_client, data

AGE_BANDS = [0, 40, 65, 120]


def statistics(df: pd.DataFrame) -> dict[str, Any]:
    """The statistics of one organization's data (no wrapper: tests call it directly)."""
    grouped = df.groupby(["sex", "smoker"])
    return {
        "size": grouped.size(),
        "blood_pressure": grouped.agg({"systolic_bp": ["mean", "count"]}),
        "crosstab": pd.crosstab(df["sex"], df["smoker"]),
        "age_bands": pd.crosstab(pd.cut(df["age"], AGE_BANDS), df["sex"]),
        "rows": np.int32(len(df)),
        "moments": np.array([[df["age"].mean(), df["age"].var()],
                             [df["systolic_bp"].mean(), df["systolic_bp"].var()]],
                            dtype=np.float32),
    }


def combine(partials: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The pooled counts of the partials (what the central function adds to them)."""
    parts = list(partials.values())
    return {
        "partials": partials,
        "size": pd.concat([p["size"] for p in parts]).groupby(level=["sex", "smoker"]).sum(),
        "crosstab": pd.concat([p["crosstab"] for p in parts]).groupby(level="sex").sum(),
        "rows": np.int32(sum(int(p["rows"]) for p in parts)),
    }


@data(1)
def partial_statistics(df: pd.DataFrame) -> dict[str, Any]:
    """:func:`statistics` of this organization's data."""
    return statistics(df)


@algorithm_client
def central_statistics(client: Any, organizations: list[int] | None = None) -> dict[str, Any]:
    """Fan out :func:`partial_statistics`, then :func:`combine` what came back."""
    orgs = organizations or sorted(org["id"] for org in client.organization.list())
    task = client.task.create(input_={"method": "partial_statistics"}, organizations=orgs,
                              name="partial statistics")
    return combine(dict(zip(orgs, client.wait_for_results(task["id"]), strict=True)))


@algorithm_client
def nested_statistics(client: Any) -> dict[str, Any]:
    """Two central levels: :func:`central_statistics` as a subtask at the last
    organization, whose partials come back through both levels unchanged."""
    orgs = sorted(org["id"] for org in client.organization.list())
    task = client.task.create(
        input_={"method": "central_statistics", "kwargs": {"organizations": orgs}},
        organizations=[orgs[-1]], name="inner central statistics")
    [inner] = client.wait_for_results(task["id"])
    return {"inner": inner, "rows": inner["rows"], "inner_at": np.int64(orgs[-1])}
