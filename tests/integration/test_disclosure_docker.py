"""What leaves a Docker node of an algorithm in a container: the disclosure rules (as on
the process runtime and the MockNetwork) applied to what the container wrote, and its
traceback only where the node shares tracebacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError
from v6lib.rules.disclosure import DisclosurePolicy, DisclosureRules
from v6lib.rules.failures import TRACEBACK_WITHHELD
from v6lib.schemas.run_status import RunStatus

from .conftest import SITES, Federation, LiveServer, docker_nodes, make_federation, node_options

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
RULES = DisclosureRules(DisclosurePolicy(min_cell_count=5, refuse_row_level=True))


@pytest.fixture(scope="module")
def guarded(live_server: LiveServer, scenario_image: str, scenario_package: Any,
            docker_client: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    fed = make_federation(live_server, 2, prefix="guarded-docker")
    # the image's own PYTHONPATH finds the algorithm; the node's rules guard results;
    # only the second node shares tracebacks
    options = [dataclasses.replace(
        node_options(fed, index, tmp_path_factory.mktemp(fed.names[index]),
                     scenario_package=scenario_package, runtime="docker"),
        algorithm_env={}, disclosure=RULES, share_algorithm_tracebacks=index == 1)
        for index in range(2)]
    with docker_nodes(fed, options, docker_client) as running:
        yield running


def _run(fed: Federation, image: str, method: str, *, at: int = 0, **kwargs: Any
         ) -> list[Any]:
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=[fed.org_ids[at]], name=method,
        image=image, input_={"method": method, "kwargs": kwargs})
    return fed.root.wait_for_results(task["id"], timeout=120)


def test_small_cells_and_rows_stay_at_a_docker_node(guarded: Federation,
                                                    scenario_image: str) -> None:
    org = guarded.org_ids[0]
    with pytest.raises(AlgorithmError) as refused:
        _run(guarded, scenario_image, "crosstab", rows="sex", columns="smoker")
    first = str(refused.value).splitlines()[0]
    assert f"organization {org}" in first and "refused by min_cell_count=5 at result" in first
    [table] = _run(guarded, scenario_image, "crosstab", rows="sex", columns="smoker",
                   suppress=5)
    site = pd.read_csv(SITES[0])
    expected = pd.crosstab(site["sex"], site["smoker"])
    kept = expected >= 5
    assert (table.table[kept] == expected[kept]).all().all()
    assert table.table[~kept].isna().all().all() and (~kept).any().any()
    with pytest.raises(AlgorithmError, match=fr"organization {org}.*refused by "
                       r"refuse_row_level at result \(a DataFrame of"):
        _run(guarded, scenario_image, "rows")


def test_a_traceback_leaves_only_a_node_that_shares_tracebacks(guarded: Federation,
                                                               scenario_image: str) -> None:
    logs = []
    for at in (0, 1):
        task = guarded.root.task.create(
            collaboration=guarded.collaboration, organizations=[guarded.org_ids[at]],
            name="fail", image=scenario_image,
            input_={"method": "fail", "kwargs": {"message": "bad column"}})
        [run] = guarded.root.wait_for_results(task["id"], timeout=120,
                                              raise_on_failure=False)
        assert run.status is RunStatus.FAILED and "ValueError: bad column" in run.reason
        logs.append(guarded.root.run.from_task(task["id"])[0]["log"] or "")
    withheld, shared = logs
    assert "Traceback (most recent call last)" not in withheld and TRACEBACK_WITHHELD in withheld
    assert "ValueError: bad column" in withheld
    assert "Traceback (most recent call last)" in shared and 'in fail' in shared
