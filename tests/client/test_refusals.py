"""How long to wait after the server turned a request away for load."""

from __future__ import annotations

from v6lib import errors
from v6lib.client.refusals import refusal_delay


def test_waits_retry_after_plus_up_to_half_more() -> None:
    busy = errors.ServerBusyError("busy", details={"retry_after_seconds": 4})
    assert refusal_delay(busy, rng=lambda: 0.0) == 4.0
    assert refusal_delay(busy, rng=lambda: 1.0) == 6.0
    limited = errors.RateLimitedError("slow", details={"retry_after_seconds": 2})
    assert refusal_delay(limited, rng=lambda: 0.5) == 2.5


def test_default_when_the_server_gave_no_wait() -> None:
    assert refusal_delay(errors.RateLimitedError("slow"), default=3, rng=lambda: 0.0) == 3.0


def test_other_errors_are_no_refusals() -> None:
    assert refusal_delay(errors.ServerUnavailableError("down")) is None
    assert refusal_delay(errors.AuthenticationError("who")) is None
    assert refusal_delay(ValueError("x")) is None
