"""Factories for wrapper tests: data files on disk and contexts around them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest

from v6lib.wrappers.context import AlgorithmContext
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.metadata import RunMetadata


@pytest.fixture
def frame() -> pd.DataFrame:
    """A small table with an int, a float and a text column."""
    return pd.DataFrame({"age": [30, 41, 52], "weight": [70.5, 80.0, 65.25],
                         "city": ["Leiden", "Utrecht", "Delft"]})


@pytest.fixture
def csv_db(tmp_path: Path) -> Callable[..., DatabaseSpec]:
    """Write a CSV file and return its DatabaseSpec."""

    def make(label: str, table: pd.DataFrame) -> DatabaseSpec:
        path = tmp_path / f"{label}.csv"
        table.to_csv(path, index=False)
        return DatabaseSpec(label=label, uri=str(path), type="csv")

    return make


@pytest.fixture
def make_context() -> Callable[..., AlgorithmContext]:
    def make(databases: Sequence[DatabaseSpec] = (), **kwargs: object) -> AlgorithmContext:
        kwargs.setdefault("metadata", RunMetadata(task_id=5, organization_id=2,
                                                  collaboration_id=1))
        return AlgorithmContext(databases=list(databases), **kwargs)  # type: ignore[arg-type]

    return make
