"""The central Newton-Raphson loop: one subtask per iteration, summed across organizations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from v6lib.errors import AlgorithmError, ValidationError
from v6lib.wrappers import algorithm_client

if TYPE_CHECKING:
    from v6lib.client.algorithm_client import AlgorithmClient


def _round(
    client: AlgorithmClient, organizations: list[int], kwargs: dict[str, Any], iteration: int
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Ask every organization for its share at the current coefficients; sum them."""
    task = client.task.create(
        input_={"method": "partial_newton", "kwargs": kwargs},
        organizations=organizations,
        name=f"newton step {iteration}",
    )
    parts = client.wait_for_results(task["id"])
    gradient = np.sum([np.asarray(p["gradient"]) for p in parts], axis=0)
    hessian = np.sum([np.asarray(p["hessian"]) for p in parts], axis=0)
    return gradient, hessian, sum(p["loglik"] for p in parts), sum(p["count"] for p in parts)


@algorithm_client
def central_logistic_regression(
    client: AlgorithmClient,
    features: list[str],
    outcome: str,
    organizations: list[int] | None = None,
    max_iterations: int = 25,
    tolerance: float = 1e-10,
) -> dict[str, Any]:
    """Fit ``outcome ~ features`` (with intercept) over all organizations' data.

    Args:
        client: passed by the wrapper.
        features: numeric predictor columns.
        outcome: a 0/1 column.
        organizations: ids to include; all organizations of the collaboration by default.
        max_iterations: Newton steps at most (each is one round trip to all organizations).
        tolerance: stop when the largest coefficient change is below this.

    Returns:
        ``{"coefficients": {name: value}, "standard_errors": {...}, "loglik", "count",
        "iterations", "converged", "organizations"}``; standard errors come from the
        Hessian of the last round.
    """
    if not features or not all(isinstance(f, str) for f in features):
        raise ValidationError("features must be a non-empty list of column names")
    if organizations is None:
        organizations = [org["id"] for org in client.organization.list()]
    beta = np.zeros(len(features) + 1)
    converged = False
    iteration = 0
    while iteration < max_iterations and not converged:
        iteration += 1
        kwargs = {"features": features, "outcome": outcome, "coefficients": beta.tolist()}
        gradient, hessian, loglik, count = _round(client, organizations, kwargs, iteration)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            raise AlgorithmError(
                "the pooled Hessian is singular: a feature is constant or a linear "
                "combination of others, or the outcome is perfectly separated"
            ) from None
        beta = beta + step
        converged = bool(np.max(np.abs(step)) < tolerance)
    names = ["intercept", *features]
    errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
    return {
        "coefficients": dict(zip(names, beta.tolist(), strict=True)),
        "standard_errors": dict(zip(names, errors.tolist(), strict=True)),
        "loglik": loglik,
        "count": count,
        "iterations": iteration,
        "converged": converged,
        "organizations": sorted(organizations),
    }
