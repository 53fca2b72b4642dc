"""MockAlgorithmClient: vantage6's datasets form on top of a MockNetwork."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib.errors import ConfigurationError, UnsupportedError
from v6lib.mock import MockAlgorithmClient
from v6lib.mock.algorithm_client import network_datasets


def test_frames_and_files_become_the_organizations_databases(
    algorithms: ModuleType, sites: list[pd.DataFrame], tmp_path: Path
) -> None:
    path = tmp_path / "site.csv"
    sites[1].to_csv(path, index=False)
    client = MockAlgorithmClient(
        datasets=[[{"database": sites[0]}], [{"database": str(path), "db_type": "csv"}]],
        module=algorithms, collaboration_id=9, organization_ids=[4, 6])

    task = client.task.create({"method": "column_sum", "kwargs": {"column": "value"}},
                              organizations=[6, 4])

    # finished when create returns, as vantage6's mock promises
    assert client.result.from_task(task["id"]) == [float(sites[1]["value"].sum()),
                                                   float(sites[0]["value"].sum())]
    assert client.collaboration_id == 9 and client.collaboration.get()["id"] == 9
    assert (client.organization_id, client.node_id) == (4, 4)
    assert [org["id"] for org in client.organization.list()] == [4, 6]
    assert client.network.organization_ids == [4, 6]


def test_sql_databases_give_connections(algorithms: ModuleType, tmp_path: Path) -> None:
    datasets = []
    for rows in (2, 5):
        path = tmp_path / f"site{rows}.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE visits (id INTEGER)")
            db.executemany("INSERT INTO visits VALUES (?)", [(i,) for i in range(rows)])
        datasets.append([{"database": str(path), "db_type": "sql",
                          "query": "SELECT * FROM visits"}])
    client = MockAlgorithmClient(datasets=datasets, module=algorithms)

    task = client.task.create({"method": "count_rows", "kwargs": {"table": "visits"}},
                              organizations=[1, 2])

    assert client.wait_for_results(task["id"]) == [{"label": "default", "count": 2},
                                                   {"label": "default", "count": 5}]


def test_dataset_keys_map_to_the_network_form() -> None:
    frame = pd.DataFrame({"a": [1]})
    converted = network_datasets([
        [{"database": "a.xlsx", "db_type": "excel", "sheet_name": "visits"},
         {"database": "sqlite:///x.db", "db_type": "sql", "query": "SELECT 1"}],
        [{"database": frame}],
    ])

    assert converted == [
        [{"uri": "a.xlsx", "type": "excel", "query": "visits"},
         {"uri": "sqlite:///x.db", "type": "sql", "query": "SELECT 1"}],
        [frame],
    ]


@pytest.mark.parametrize(("datasets", "error", "match"), [
    ([[{"database": "a.csv", "preprocessing": [{"function": "select_rows"}]}]],
     UnsupportedError, "'preprocessing' is not supported"),
    ([[{"uri": "a.csv"}]], ConfigurationError, "must have 'database'"),
])
def test_what_cannot_be_mocked_is_refused(algorithms: ModuleType, datasets: list,
                                          error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        MockAlgorithmClient(datasets=datasets, module=algorithms)


def test_node_ids_are_refused(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with pytest.raises(UnsupportedError, match="node_ids"):
        MockAlgorithmClient(datasets=[[{"database": sites[0]}]], module=algorithms,
                            node_ids=[7])
