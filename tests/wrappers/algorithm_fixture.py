"""A tiny algorithm package written into a temporary folder, for runner tests."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

SOURCE = '''
"""A test algorithm."""
import os
from os.path import join  # imported: must not be callable through a task

import pandas as pd

from v6lib.errors import DataError
from v6lib.wrappers import algorithm_client, data, metadata

from .central import central_average


@data(1)
def total(df, column):
    return {"sum": float(df[column].sum()), "n": int(len(df))}


@data(2)
def sizes(first, second):
    return [len(first), len(second)]


def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def RPC_legacy_sum(data, column):
    return int(data[column].sum())


def legacy_master(client, data, x):
    return {"client": type(client).__name__, "rows": None if data is None else len(data),
            "x": x}


@metadata
def whoami(meta):
    return {"task_id": meta.task_id, "organization_id": meta.organization_id,
            "collaboration_id": meta.collaboration_id, "run_id": meta.run_id,
            "temporary_folder": str(meta.temporary_folder)}


def frame_result():
    return pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})


def boom():
    raise ValueError("the algorithm broke on purpose")


def bad_data():
    raise DataError("column 'age' is missing in database 'default'")


def unserializable():
    return {"model": [1, object()]}


def quits():
    raise SystemExit(3)


def _private():
    return "secret"


class Model:
    pass
'''

CENTRAL = '''
from v6lib.wrappers import algorithm_client


@algorithm_client
def central_average(client, column):
    orgs = [org["id"] for org in client.organization.list()]
    task = client.task.create({"method": "total", "kwargs": {"column": column}}, orgs,
                              name="partials")
    parts = client.wait_for_results(task["id"], timeout=30)
    return {"average": sum(p["sum"] for p in parts) / sum(p["n"] for p in parts),
            "organizations": orgs, "me": client.organization_id}
'''


def write_algorithm(folder: Path) -> str:
    """Write the package under ``folder`` with a unique name; return the name."""
    name = f"algo_{uuid.uuid4().hex[:10]}"
    package = folder / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    (package / "central.py").write_text(textwrap.dedent(CENTRAL), encoding="utf-8")
    return name


def forget(name: str) -> None:
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
