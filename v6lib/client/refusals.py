"""How long to wait when the server turns a request away for load (429, 503 busy).

Kept apart from the transport (no ``requests`` import) so that algorithm-side code and
the node can share it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from v6lib.errors import RateLimitedError, ServerBusyError

__all__ = ["REFUSALS", "refusal_delay"]

#: The errors that mean "not now, come back later" rather than "failed".
REFUSALS = (RateLimitedError, ServerBusyError)


def refusal_delay(exc: BaseException, *, default: float = 1.0,
                  rng: Callable[[], float] = random.random) -> float | None:
    """The wait before asking again after ``exc``, or ``None`` when it is no refusal.

    The server's ``Retry-After`` (``default`` when it gave none) plus up to half of it
    at random, so callers refused at the same moment do not all come back together.
    """
    if not isinstance(exc, REFUSALS):
        return None
    wait = exc.retry_after
    return (default if wait is None else wait) * (1.0 + 0.5 * rng())
