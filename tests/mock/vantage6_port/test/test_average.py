"""The algorithm's own mock tests, written as vantage6's documentation writes them."""

from pathlib import Path

import pandas as pd

from v6lib.mock import MockAlgorithmClient

data_directory = Path(__file__).parent / "data"
data_files = [data_directory / f"data_{i}.csv" for i in (1, 2, 3)]


def make_client():
    return MockAlgorithmClient(
        datasets=[[{"database": str(path), "db_type": "csv"}] for path in data_files],
        module="v6_average_port",
    )


def test_central_average():
    client = make_client()
    organizations = client.organization.list()
    org_ids = [organization["id"] for organization in organizations]

    central_task = client.task.create(
        input_={"method": "central_average", "kwargs": {"column_name": "age"}},
        organizations=[org_ids[0]],
    )
    results = client.wait_for_results(central_task.get("id"))

    pooled = pd.concat([pd.read_csv(path) for path in data_files])
    assert len(results) == 1
    assert abs(results[0]["average"] - pooled["age"].mean()) < 1e-9


def test_partial_average():
    client = make_client()
    org_ids = [organization["id"] for organization in client.organization.list()]

    task = client.task.create(
        input_={"method": "partial_average", "kwargs": {"column_name": "age"}},
        organizations=org_ids,
    )
    results = client.result.from_task(task.get("id"))

    frames = [pd.read_csv(path) for path in data_files]
    assert [r["count"] for r in results] == [int(f["age"].count()) for f in frames]
    assert [r["sum"] for r in results] == [int(f["age"].sum()) for f in frames]
    assert client.task.get(task.get("id"))["status"] == "completed"
    runs = client.run.from_task(task.get("id"))
    assert client.result.get(runs[0]["id"]) == results[0]


def test_run_metadata():
    client = make_client()
    org_id = client.organization.list()[1]["id"]

    task = client.task.create(
        input_={"method": "partial_run_details"}, organizations=[org_id]
    )
    [details] = client.result.from_task(task.get("id"))

    assert details["node_id"] is not None
    assert details["organization_id"] == org_id
    assert details["has_input_file"] is True
    assert details["token_file_name"] == "token"
    assert details["level"] == "info"
