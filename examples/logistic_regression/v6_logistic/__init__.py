"""Federated logistic regression by Newton-Raphson: an iterative central function.

Each round the central function sends the current coefficients to every organization;
each returns the gradient and Hessian of its log-likelihood (``partial_newton``); the
central sums them and takes a Newton step, until the step is below the tolerance.
"""

from __future__ import annotations

from v6_logistic.central import central_logistic_regression as central_logistic_regression
from v6_logistic.partial import partial_newton as partial_newton

__all__ = ["central_logistic_regression", "partial_newton"]
