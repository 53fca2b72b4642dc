"""MockAlgorithmApi satisfies the AlgorithmApi Protocol and its scoping rules."""

from __future__ import annotations

from types import ModuleType

import pandas as pd
import pytest

from v6lib.client.algorithm_api import AlgorithmApi
from v6lib.errors import NotFoundError
from v6lib.mock import MockAlgorithmApi, MockNetwork


def test_is_an_algorithm_api(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites) as network:
        api = MockAlgorithmApi(network.server, network.submit, organization_id=2)

        assert isinstance(api, AlgorithmApi)


def test_create_wait_and_read_runs(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites, collaboration_id=5) as network:
        api = MockAlgorithmApi(network.server, network.submit, organization_id=2)
        task = api.create_task(
            name="sum",
            description="d",
            organizations=[3, 1],
            input_={"method": "column_sum", "kwargs": {"column": "value"}},
            databases=None,
        )
        done = api.wait_for_task(task["id"], timeout=10)
        runs = api.get_runs(task["id"])

    assert task["collaboration_id"] == 5 and task["init_org_id"] == 2
    assert task["databases"] == [{"label": "default"}]
    assert done["status"] == "completed"
    assert [(r["organization_id"], r["status"], r["result"]) for r in runs] == [
        (3, "completed", float(sites[2]["value"].sum())),
        (1, "completed", float(sites[0]["value"].sum())),
    ]


def test_organizations_and_collaboration(algorithms: ModuleType, sites: list[pd.DataFrame]) -> None:
    with MockNetwork(algorithms, sites, organization_ids=[4, 6, 8]) as network:
        api = MockAlgorithmApi(network.server, network.submit, organization_id=4)

        assert [org["id"] for org in api.get_organizations()] == [4, 6, 8]
        assert api.get_organization(6)["name"] == "organization 6"
        assert api.get_collaboration()["organization_ids"] == [4, 6, 8]
        with pytest.raises(NotFoundError, match="organization 5 is not part"):
            api.get_organization(5)
        assert api.get_studies() == []
        with pytest.raises(NotFoundError, match="has no studies"):
            api.get_study(1)


def test_run_scoped_api_cannot_read_another_job(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        network.run("column_sum", kwargs={"column": "value"})
        network.run("column_sum", kwargs={"column": "value"})
        other_job = network.store.task(2)
        api = MockAlgorithmApi(network.server, network.submit, organization_id=1, parent=other_job)

        assert len(api.get_runs(2)) == 3
        own_run = network.store.runs(2)[0]
        assert api.get_run(own_run.id)["result"] == api.get_runs(2)[0]["result"]
        with pytest.raises(NotFoundError):
            api.get_run(network.store.runs(1)[0].id)
        with pytest.raises(NotFoundError, match="run 999 does not exist"):
            api.get_run(999)
        with pytest.raises(NotFoundError):
            api.get_runs(1)
        with pytest.raises(NotFoundError):
            api.wait_for_task(1, timeout=0)
