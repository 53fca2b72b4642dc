"""Small algorithms the MockNetwork tests run (loaded by conftest under a unique name)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd

from v6lib.wrappers import algorithm_client, current_context, data, metadata
from v6lib.wrappers.contract import DatabaseSpec


@metadata
@data(1)
def describe(meta: Any, df: pd.DataFrame) -> dict[str, Any]:
    """Who ran, in which job, on which rows."""
    return {
        "organization_id": meta.organization_id,
        "task_id": meta.task_id,
        "job_id": meta.job_id,
        "ids": sorted(df["id"].tolist()),
        "frame_id": id(df),
        "temporary_folder": str(meta.temporary_folder),
    }


@data(1)
def column_sum(df: pd.DataFrame, column: str) -> float:
    return float(df[column].sum())


@data(2)
def two_databases(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, Any]:
    return {
        "first": list(first.columns),
        "second": list(second.columns),
        "rows": [len(first), len(second)],
    }


@data(1)
def unserializable(df: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(df), "model": [1, 2, threading.Lock()]}


@metadata
@data(1)
def fail_at(meta: Any, df: pd.DataFrame, organization_id: int) -> int:
    if meta.organization_id == organization_id:
        raise ValueError(f"cannot handle the data of organization {organization_id}")
    return len(df)


@data(1)
def calls_exit(df: pd.DataFrame) -> None:
    raise SystemExit(3)


@data(1)
def timed(df: pd.DataFrame, seconds: float) -> dict[str, Any]:
    """Start and end times of the run, and the thread it ran in."""
    start = time.monotonic()
    time.sleep(seconds)
    return {"start": start, "end": time.monotonic(), "thread": threading.get_ident()}


@data(1)
def peek(df: pd.DataFrame, uri: str, kind: str) -> int:
    """Try to read a database the run was not given."""
    return len(current_context().load(DatabaseSpec("default", uri, kind)))


@algorithm_client
def fan_out(client: Any, method: str, kwargs: dict[str, Any] | None = None) -> list[Any]:
    """Run ``method`` at every organization and return the results."""
    orgs = [org["id"] for org in client.organization.list()]
    task = client.task.create(input_={"method": method, "kwargs": kwargs or {}}, organizations=orgs)
    return client.wait_for_results(task["id"])


@metadata
@algorithm_client
def nested(meta: Any, client: Any, via: int) -> dict[str, Any]:
    """A central that asks another organization's central to fan out ``describe``."""
    task = client.task.create(
        input_={"method": "fan_out", "kwargs": {"method": "describe"}}, organizations=[via]
    )
    [inner] = client.wait_for_results(task["id"])
    return {
        "job_id": meta.job_id,
        "task_id": meta.task_id,
        "inner_task_id": task["id"],
        "inner": inner,
    }


@algorithm_client
def read_foreign_task(client: Any, task_id: int) -> Any:
    return client.run.from_task(task_id)
