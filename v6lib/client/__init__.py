"""Clients for researchers and administrators (UserClient) and for algorithms."""

from __future__ import annotations

from .outcome import RunOutcome as RunOutcome
from .user_client import UserClient as UserClient

#: vantage6's name for the same class: ``from v6lib.client import Client``.
Client = UserClient

__all__ = ["Client", "RunOutcome", "UserClient"]
