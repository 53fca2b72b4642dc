"""The ``mock_network`` fixture that the v6lib pytest plugin provides."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pandas as pd

from v6lib.mock import MockNetwork


def test_fixture_builds_networks(
    mock_network: Callable[..., MockNetwork], algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    network = mock_network(algorithms, sites, organization_ids=[2, 3, 4])

    assert isinstance(network, MockNetwork)
    assert network.run("column_sum", kwargs={"column": "value"}, organizations=[4]) == [
        float(sites[2]["value"].sum())
    ]


def test_plugin_is_registered_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}

    assert plugins.get("v6lib_mock") == "v6lib.mock.pytest_plugin"
