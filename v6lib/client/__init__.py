"""Clients for researchers and administrators (UserClient) and for algorithms.

The user client is imported on first use (module ``__getattr__``), so an algorithm
container that only needs :mod:`v6lib.client.algorithm_client` does not pay for it.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from v6lib.rules.failures import RunOutcome as RunOutcome

    from .user_client import UserClient as UserClient

    Client = UserClient

__all__ = ["Client", "RunOutcome", "UserClient"]

_LAZY = {
    "UserClient": ("v6lib.client.user_client", "UserClient"),
    #: vantage6's name for the same class: ``from v6lib.client import Client``.
    "Client": ("v6lib.client.user_client", "UserClient"),
    "RunOutcome": ("v6lib.rules.failures", "RunOutcome"),
}


def __getattr__(name: str) -> typing.Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'v6lib.client' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
