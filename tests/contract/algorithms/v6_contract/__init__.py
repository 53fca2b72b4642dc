"""The algorithm of the federation contract suite: every behaviour a researcher or a
central function can observe, in small methods (run on the mock and on real nodes)."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from v6lib.wrappers import AlgorithmClient, RunMetadata, algorithm_client, data, metadata


@data(1)
def partial_sum(df: pd.DataFrame, column: str = "value") -> dict[str, Any]:
    """The sum and count of a column."""
    return {"sum": float(df[column].sum()), "count": len(df)}


@algorithm_client
def central_sum(client: AlgorithmClient, column: str = "value") -> dict[str, Any]:
    """Fan ``partial_sum`` out to every organization and add up."""
    orgs = [org["id"] for org in client.organization.list()]
    task = client.task.create({"method": "partial_sum", "kwargs": {"column": column}}, orgs)
    parts = client.wait_for_results(task["id"])
    return {"sum": sum(p["sum"] for p in parts), "count": sum(p["count"] for p in parts),
            "organizations": [p["count"] for p in parts]}


@data(1)
@metadata
def fail_at(df: pd.DataFrame, meta: RunMetadata, organization_id: int) -> int:
    """Fail at one organization, succeed elsewhere."""
    if meta.organization_id == organization_id:
        raise ValueError(f"cannot use the data of organization {organization_id}")
    return len(df)


@algorithm_client
def central_fail(client: AlgorithmClient, organization_id: int) -> list[Any]:
    """A central function whose subtask fails at one organization."""
    orgs = [org["id"] for org in client.organization.list()]
    task = client.task.create({"method": "fail_at",
                               "kwargs": {"organization_id": organization_id}}, orgs)
    return client.wait_for_results(task["id"])


@algorithm_client
def nested(client: AlgorithmClient, depth: int, fail_at_organization: int | None = None
           ) -> Any:
    """Centrals within centrals, ``depth`` levels, then partials (failing where told)."""
    me = client.organization_id
    if depth == 0:
        method: dict[str, Any] = {"method": "fail_at" if fail_at_organization else
                                  "partial_sum",
                                  "kwargs": ({"organization_id": fail_at_organization}
                                             if fail_at_organization else {})}
        orgs = [org["id"] for org in client.organization.list()]
    else:
        method = {"method": "nested", "kwargs": {"depth": depth - 1,
                                                 "fail_at_organization": fail_at_organization}}
        orgs = [me]
    task = client.task.create(method, orgs)
    return client.wait_for_results(task["id"])


@metadata
def sleep(meta: RunMetadata, seconds: float) -> int | None:
    """Nothing, after ``seconds``."""
    time.sleep(seconds)
    return meta.organization_id


def undecorated(value: int) -> int:
    """A plain function of the package: callable, without data."""
    return value * 2
