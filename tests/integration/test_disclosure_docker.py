"""Disclosure control for an algorithm in a container: the same rules as on the process
runtime and the MockNetwork, applied by a Docker node to what the container wrote."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from tests.docker_support import BASE_IMAGE, cleanup_node
from v6lib.errors import AlgorithmError
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.rules.disclosure import DisclosurePolicy, DisclosureRules

from .conftest import SITES, Federation, LiveServer, ThreadNode, make_federation, node_options

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
RULES = DisclosureRules(DisclosurePolicy(min_cell_count=5, refuse_row_level=True))


@pytest.fixture(scope="module")
def guarded(live_server: LiveServer, scenario_image: str, scenario_package: Any,
            docker_client: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    fed = make_federation(live_server, 1, prefix="guarded-docker")
    options = node_options(fed, 0, tmp_path_factory.mktemp(fed.names[0]),
                           scenario_package=scenario_package, runtime="docker")
    # the image's own PYTHONPATH finds the algorithm; the node's rules guard the result
    options = dataclasses.replace(options, algorithm_env={}, disclosure=RULES)
    fed.nodes.append(ThreadNode(options, runtime=DockerRuntime(fed.names[0],
                                                               check_image=BASE_IMAGE)))
    try:
        yield fed
    finally:
        fed.stop_nodes()
        assert cleanup_node(docker_client, fed.nodes[0].runtime) == []


def _run(fed: Federation, image: str, method: str, **kwargs: Any) -> list[Any]:
    task = fed.root.task.create(
        collaboration=fed.collaboration, organizations=fed.org_ids, name=method,
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
