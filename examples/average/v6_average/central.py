"""The central part of the federated average: fan out, wait, combine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from v6lib.errors import DataError
from v6lib.wrappers import algorithm_client

if TYPE_CHECKING:
    from v6lib.client.algorithm_client import AlgorithmClient


@algorithm_client
def central_average(
    client: AlgorithmClient, column: str, organizations: list[int] | None = None
) -> dict[str, Any]:
    """The average of ``column`` over the organizations of the collaboration.

    Args:
        client: the AlgorithmClient the wrapper passes in.
        column: the numeric column to average.
        organizations: ids to include; all organizations of the collaboration by default.

    Returns:
        ``{"average": float, "count": int, "organizations": [ids]}``.
    """
    if organizations is None:
        organizations = [org["id"] for org in client.organization.list()]
    task = client.task.create(
        input_={"method": "partial_average", "kwargs": {"column": column}},
        organizations=organizations,
        name="partial average",
        description=f"sum and count of {column!r}",
    )
    partials = client.wait_for_results(task["id"])
    count = sum(int(part["count"]) for part in partials)
    if count == 0:
        raise DataError(f"column {column!r} has no values at any organization")
    total = sum(float(part["sum"]) for part in partials)
    return {"average": total / count, "count": count, "organizations": sorted(organizations)}
