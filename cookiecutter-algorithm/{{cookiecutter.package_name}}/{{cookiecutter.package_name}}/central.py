"""The central part: send the partial task to the organizations, then combine."""

from __future__ import annotations

import math
from typing import Any

from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.errors import DataError
from v6lib.wrappers import algorithm_client


@algorithm_client
def central_statistics(
    client: AlgorithmClient, column: str, organizations: list[int] | None = None
) -> dict[str, Any]:
    """Mean and (sample) standard deviation of ``column`` over the organizations.

    Args:
        client: passed by the wrapper; creates the subtask and collects its results.
        column: a numeric column present at every organization.
        organizations: ids to include; all organizations of the collaboration by default.
    """
    if organizations is None:
        organizations = [org["id"] for org in client.organization.list()]
    task = client.task.create(
        input_={"method": "partial_statistics", "kwargs": {"column": column}},
        organizations=organizations,
        name="partial statistics",
    )
    partials = client.wait_for_results(task["id"])
    count = sum(p["count"] for p in partials)
    if count < 2:
        raise DataError(f"column {column!r} has {count} value(s) in total; need at least 2")
    total = sum(p["sum"] for p in partials)
    squares = sum(p["sum_of_squares"] for p in partials)
    mean = total / count
    variance = max(squares - count * mean * mean, 0.0) / (count - 1)
    return {"mean": mean, "std": math.sqrt(variance), "count": count,
            "organizations": sorted(organizations)}
