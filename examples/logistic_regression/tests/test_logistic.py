"""Federated Newton-Raphson on the MockNetwork equals a pooled fit on the same rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import v6_logistic

from v6lib.errors import AlgorithmError, NotFoundError
from v6lib.mock import MockNetwork

DATA = Path(__file__).resolve().parents[1] / "data"
SITES = [DATA / "site_a.csv", DATA / "site_b.csv", DATA / "site_c.csv"]
FEATURES = ["age", "bmi", "smoker"]

MockFactory = Callable[..., MockNetwork]


def pooled_fit(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood fit on the pooled rows by iteratively reweighted least squares,
    computed centrally; returns (coefficients, standard errors)."""
    x = np.column_stack([np.ones(len(frame)), frame[FEATURES].to_numpy(float)])
    y = frame["hypertension"].to_numpy(float)
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ beta)))
        w = p * (1 - p)
        z = x @ beta + (y - p) / w
        new = np.linalg.lstsq(x * np.sqrt(w)[:, None], z * np.sqrt(w), rcond=None)[0]
        if np.max(np.abs(new - beta)) < 1e-13:
            beta = new
            break
        beta = new
    p = 1 / (1 + np.exp(-(x @ beta)))
    covariance = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    return beta, np.sqrt(np.diag(covariance))


@pytest.fixture(scope="module")
def pooled() -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in SITES], ignore_index=True)


def test_coefficients_match_the_pooled_fit(mock_network: MockFactory, pooled: pd.DataFrame) -> None:
    network = mock_network(v6_logistic, SITES)

    [fit] = network.run(
        "central_logistic_regression", kwargs={"features": FEATURES, "outcome": "hypertension"}
    )

    expected, errors = pooled_fit(pooled)
    got = np.array([fit["coefficients"][n] for n in ["intercept", *FEATURES]])
    assert fit["converged"] is True
    assert np.max(np.abs(got - expected)) < 1e-6
    got_errors = np.array([fit["standard_errors"][n] for n in ["intercept", *FEATURES]])
    assert np.max(np.abs(got_errors - errors)) < 1e-6
    assert fit["count"] == len(pooled)
    assert fit["organizations"] == [1, 2, 3]


def test_each_iteration_is_one_subtask_to_every_organization(mock_network: MockFactory) -> None:
    network = mock_network(v6_logistic, SITES)

    [fit] = network.run(
        "central_logistic_regression", kwargs={"features": FEATURES, "outcome": "hypertension"}
    )

    subtasks = [network.store.task(i) for i in range(2, fit["iterations"] + 2)]
    assert 3 <= fit["iterations"] <= 25
    assert all(t.parent_id == 1 and t.job_id == 1 for t in subtasks)
    assert all(len(network.store.runs(t.id)) == 3 for t in subtasks)
    with pytest.raises(NotFoundError, match="does not exist"):
        network.store.task(fit["iterations"] + 2)


def test_stops_at_max_iterations_without_claiming_convergence(mock_network: MockFactory) -> None:
    network = mock_network(v6_logistic, SITES)

    [fit] = network.run(
        "central_logistic_regression",
        kwargs={"features": FEATURES, "outcome": "hypertension", "max_iterations": 2},
    )

    assert fit["iterations"] == 2
    assert fit["converged"] is False


def test_small_organization_refuses_to_share(mock_network: MockFactory) -> None:
    tiny = pd.read_csv(SITES[0]).head(6)
    network = mock_network(v6_logistic, [SITES[0], SITES[1], tiny])

    with pytest.raises(AlgorithmError) as caught:
        network.run(
            "central_logistic_regression", kwargs={"features": FEATURES, "outcome": "hypertension"}
        )

    first_line = str(caught.value).splitlines()[0]
    assert "organization 3 failed: PrivacyError: only 6 complete row(s) here" in first_line


def test_failure_at_one_organization_stops_the_fit(mock_network: MockFactory) -> None:
    network = mock_network(v6_logistic, SITES, failures={1: MemoryError("out of memory")})

    with pytest.raises(AlgorithmError, match="organization 1 failed: MemoryError") as caught:
        network.run(
            "central_logistic_regression", kwargs={"features": FEATURES, "outcome": "hypertension"}
        )

    assert "MemoryError: out of memory" in str(caught.value)


def test_non_binary_outcome_is_a_data_error(mock_network: MockFactory) -> None:
    network = mock_network(v6_logistic, SITES)

    with pytest.raises(AlgorithmError, match="outcome 'age' must be coded 0/1"):
        network.run(
            "partial_newton",
            kwargs={"features": ["bmi"], "outcome": "age", "coefficients": [0.0, 0.0]},
            organizations=[2],
        )


def test_constant_feature_gives_a_clear_error(mock_network: MockFactory) -> None:
    frames = [pd.read_csv(path).assign(site=1.0) for path in SITES]
    network = mock_network(v6_logistic, frames)

    with pytest.raises(AlgorithmError, match="pooled Hessian is singular"):
        network.run(
            "central_logistic_regression",
            kwargs={"features": ["age", "site"], "outcome": "hypertension"},
        )
