"""Small algorithms the MockNetwork tests run (loaded by conftest under a unique name)."""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from v6lib.wrappers import (
    algorithm_client,
    current_context,
    data,
    database_connection,
    metadata,
    progress,
)
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.token import read_claims


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


# ------------------------------------------------------------------ the container contract

#: the variables the documented contract gives every run
CONTRACT = (
    "INPUT_FILE", "OUTPUT_FILE", "TOKEN_FILE", "TEMPORARY_FOLDER", "HOST", "PORT", "API_PATH",
    "USER_REQUESTED_DATABASE_LABELS", "PKG_NAME", "HOME",
)
#: set by a test to make runs wait for each other (so they surely run at the same time)
BARRIER: threading.Barrier | None = None


@data(1)
def contract_view(df: pd.DataFrame) -> dict[str, Any]:
    """What a partial written against the documented contract finds, read from
    ``os.environ`` and the files it names, never from the wrapper's context."""
    if BARRIER is not None:
        BARRIER.wait(timeout=30)
    env = os.environ
    label = env["USER_REQUESTED_DATABASE_LABELS"].split(",")[0].upper()
    with open(env["INPUT_FILE"], "rb") as handle:
        task_input = json.loads(handle.read())
    with open(env["TOKEN_FILE"]) as handle:
        claims = read_claims(handle.read())
    note = Path(env["TEMPORARY_FOLDER"]) / "note.txt"
    note.write_text(env["INPUT_FILE"])
    seen_by_thread: list[str] = []
    worker = threading.Thread(target=lambda: seen_by_thread.append(os.environ["INPUT_FILE"]))
    worker.start()
    worker.join(30)
    return {
        **{name: env[name] for name in CONTRACT},
        "uri": env[f"{label}_DATABASE_URI"],
        "type": env[f"{label}_DATABASE_TYPE"],
        "rows": len(pd.read_csv(env[f"{label}_DATABASE_URI"])),
        "getenv": os.getenv("TEMPORARY_FOLDER"),
        "input": task_input,
        "claims": claims,
        "note": note.read_text(),
        "thread_input_file": seen_by_thread[0],
        "tempdir": tempfile.gettempdir(),
        "leftover": os.environ.get("LEFTOVER"),
        "set_in_run": os.environ.setdefault("LEFTOVER", "set by a run"),
    }


# ------------------------------------------------------------------ the sandbox


@data(1)
def read_file(df: pd.DataFrame, path: str) -> int:
    return len(pd.read_csv(path))


@data(1)
def write_file(df: pd.DataFrame, path: str) -> str:
    """Write ``path`` (``$NAME``: the path in the environment variable NAME)."""
    target = os.environ[path[1:]] if path.startswith("$") else path
    Path(target).write_text("written by a run")
    return target


@data(1)
def write_everywhere_allowed(df: pd.DataFrame) -> list[str]:
    """Write where a container may: TEMPORARY_FOLDER, the output folder, HOME, tempfile."""
    written = [Path(os.environ["TEMPORARY_FOLDER"]) / "shared.txt",
               Path(os.environ["OUTPUT_FILE"]).with_name("extra.txt"),
               Path(os.path.expanduser("~")) / ".cache" / "x.txt"]
    written[2].parent.mkdir(parents=True, exist_ok=True)
    for path in written:
        path.write_text("ok")
    with tempfile.NamedTemporaryFile("w") as handle:
        handle.write("ok")
    scratch = tempfile.mkdtemp()
    os.rename(written[0], Path(scratch) / "moved.txt")
    os.makedirs(os.environ["TEMPORARY_FOLDER"], exist_ok=True)
    return [str(p) for p in written] + [scratch]


@data(1)
def connect(df: pd.DataFrame, host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=5):
        return "connected"


@data(1)
def resolve(df: pd.DataFrame, host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, 80)]


@data(1)
def listen(df: pd.DataFrame) -> int:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        return int(server.getsockname()[1])


@data(1)
def in_a_thread(df: pd.DataFrame, path: str) -> str:
    """Read ``path`` in a thread the run starts; the error it met, if any."""
    outcome: list[str] = []

    def read() -> None:
        try:
            Path(path).read_text()
            outcome.append("read")
        except OSError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=read)
    worker.start()
    worker.join(30)
    return outcome[0]


@data(1)
def import_fresh(df: pd.DataFrame, folder: str, name: str) -> int:
    """Import a module no one imported yet (its bytecode cache cannot be written)."""
    sys.path.insert(0, folder)
    try:
        return int(importlib.import_module(name).VALUE)
    finally:
        sys.path.remove(folder)


@data(1)
def unix_socket(df: pd.DataFrame, folder: str) -> str:
    """Listen on a Unix socket in ``folder`` (``$NAME``: the folder in variable NAME)."""
    path = os.path.join(os.environ[folder[1:]] if folder.startswith("$") else folder, "s.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        return "listening"


@database_connection(types=["sql"])
def count_rows(connection: Any, database: DatabaseSpec, table: str) -> dict[str, Any]:
    from sqlalchemy import text

    count = connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    return {"label": database.label, "count": int(count)}


@data(1)
def crosstab(df: pd.DataFrame, rows: str, columns: str, suppress: int = 0) -> Any:
    """A count table, with its small cells suppressed when ``suppress`` is given."""
    from v6lib.wrappers.aggregates import count_table, suppress_small_cells

    table = count_table(df, rows, columns)
    return suppress_small_cells(table, suppress) if suppress else table


@data(1)
def head(df: pd.DataFrame, rows: int | None = None) -> pd.DataFrame:
    """Row-level data: what a disclosure policy keeps at the node."""
    return df if rows is None else df.head(rows)


def count_up(steps: int, seconds: float, message: str = "step") -> int:
    """Report progress ``steps`` times, ``seconds`` apart (and once more a bad one when
    ``steps`` is 0)."""
    if steps == 0:
        progress("half")  # type: ignore[arg-type]
    for i in range(1, steps + 1):
        time.sleep(seconds)
        progress(i / steps, f"{message} {i}/{steps}")
    time.sleep(seconds)
    return steps
