"""The federated average on the MockNetwork equals pandas on the pooled data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import v6_average

from v6lib.errors import AlgorithmError
from v6lib.mock import MockNetwork

DATA = Path(__file__).resolve().parents[1] / "data"
SITES = [DATA / "site_a.csv", DATA / "site_b.csv", DATA / "site_c.csv"]

MockFactory = Callable[..., MockNetwork]


@pytest.fixture
def pooled() -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in SITES], ignore_index=True)


@pytest.mark.parametrize("column", ["age", "bmi", "systolic_bp"])
def test_central_average_equals_the_pooled_mean(
    mock_network: MockFactory, pooled: pd.DataFrame, column: str
) -> None:
    network = mock_network(v6_average, SITES)

    [result] = network.run("central_average", kwargs={"column": column})

    assert result["average"] == pytest.approx(pooled[column].mean(), rel=1e-12)
    assert result["count"] == pooled[column].count()
    assert result["organizations"] == [1, 2, 3]


def test_encrypted_collaboration_gives_the_same_average(
    mock_network: MockFactory, pooled: pd.DataFrame
) -> None:
    network = mock_network(v6_average, SITES, encrypted=True)

    [result] = network.run("central_average", kwargs={"column": "age"})

    assert result["average"] == pytest.approx(pooled["age"].mean(), rel=1e-12)


def test_subset_of_organizations(mock_network: MockFactory) -> None:
    network = mock_network(v6_average, SITES, organization_ids=[10, 20, 30])

    [result] = network.run("central_average", kwargs={"column": "age", "organizations": [30, 10]})

    expected = pd.concat([pd.read_csv(SITES[2]), pd.read_csv(SITES[0])])["age"]
    assert result["average"] == pytest.approx(expected.mean(), rel=1e-12)
    assert result["organizations"] == [10, 30]


def test_partials_share_only_sum_and_count(mock_network: MockFactory) -> None:
    network = mock_network(v6_average, SITES)

    partials = network.run("partial_average", kwargs={"column": "bmi"})

    frames = [pd.read_csv(path) for path in SITES]
    assert partials == [
        {"sum": pytest.approx(df["bmi"].sum()), "count": df["bmi"].count()} for df in frames
    ]


def test_failure_at_one_organization_is_reported_with_its_id(mock_network: MockFactory) -> None:
    network = mock_network(v6_average, SITES, failures={2: OSError("disk unreadable")})

    with pytest.raises(AlgorithmError) as caught:
        network.run("central_average", kwargs={"column": "age"})

    message = str(caught.value)
    assert "organization 2 failed: OSError: disk unreadable" in message.splitlines()[0]
    assert "1 of 3 run(s) failed" in message


def test_missing_column_names_the_available_ones(mock_network: MockFactory) -> None:
    network = mock_network(v6_average, SITES)

    with pytest.raises(AlgorithmError) as caught:
        network.run("partial_average", kwargs={"column": "weight"}, organizations=[1])

    message = str(caught.value)
    assert "DataError: database 'default' has no column(s) 'weight'" in message
    assert "available: id, age, sex, bmi, systolic_bp, smoker" in message


def test_text_column_is_refused(mock_network: MockFactory) -> None:
    network = mock_network(v6_average, SITES)

    with pytest.raises(AlgorithmError, match=r"column 'sex' is not numeric"):
        network.run("partial_average", kwargs={"column": "sex"}, organizations=[3])
