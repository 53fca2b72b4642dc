"""{{ cookiecutter.algorithm_name }} on a MockNetwork agrees with pandas on the pooled data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import {{ cookiecutter.package_name }}
from v6lib.errors import AlgorithmError
from v6lib.mock import MockNetwork

MockFactory = Callable[..., MockNetwork]


@pytest.fixture
def sites() -> list[pd.DataFrame]:
    """Three organizations' data; replace with frames or files shaped like yours."""
    rng = np.random.default_rng(42)
    return [
        pd.DataFrame({"age": rng.integers(18, 90, rows).astype(float),
                      "group": rng.choice(["a", "b"], rows)})
        for rows in (30, 45, 25)
    ]


def test_central_matches_pandas(mock_network: MockFactory, sites: list[pd.DataFrame]) -> None:
    network = mock_network({{ cookiecutter.package_name }}, sites)

    [result] = network.run("central_statistics", kwargs={"column": "age"})

    pooled = pd.concat(sites)["age"]
    assert result["count"] == pooled.count()
    assert result["mean"] == pytest.approx(pooled.mean(), rel=1e-12)
    assert result["std"] == pytest.approx(pooled.std(), rel=1e-9)
    assert result["organizations"] == [1, 2, 3]


def test_partials_return_only_aggregates(
    mock_network: MockFactory, sites: list[pd.DataFrame]
) -> None:
    network = mock_network({{ cookiecutter.package_name }}, sites)

    partials = network.run("partial_statistics", kwargs={"column": "age"})

    assert [set(p) for p in partials] == [{"count", "sum", "sum_of_squares"}] * 3
    assert [p["count"] for p in partials] == [30, 45, 25]


def test_failure_at_one_organization_is_reported(
    mock_network: MockFactory, sites: list[pd.DataFrame]
) -> None:
    network = mock_network({{ cookiecutter.package_name }}, sites,
                           failures={2: RuntimeError("cannot read the data")})

    with pytest.raises(AlgorithmError, match="organization 2"):
        network.run("central_statistics", kwargs={"column": "age"})


def test_text_column_is_refused(mock_network: MockFactory, sites: list[pd.DataFrame]) -> None:
    network = mock_network({{ cookiecutter.package_name }}, sites)

    with pytest.raises(AlgorithmError, match="column 'group' is not numeric"):
        network.run("partial_statistics", kwargs={"column": "group"}, organizations=[1])


def test_missing_column_names_the_available_ones(
    mock_network: MockFactory, sites: list[pd.DataFrame]
) -> None:
    network = mock_network({{ cookiecutter.package_name }}, sites)

    with pytest.raises(AlgorithmError, match=r"has no column\(s\) 'weight'; available: age, group"):
        network.run("partial_statistics", kwargs={"column": "weight"}, organizations=[1])
