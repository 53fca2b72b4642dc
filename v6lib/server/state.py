"""The server's long-lived collaborators, built once by ``create_app`` and shared by requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from v6lib.server.auth.tokens import TokenService
from v6lib.server.client_address import IPNetwork
from v6lib.server.mail import MailOutbox
from v6lib.server.permissions.cache import PrincipalCache
from v6lib.server.services.context import ServiceSettings

__all__ = ["ServerState"]


@dataclass
class ServerState:
    engine: Engine
    session_factory: sessionmaker[Session]
    tokens: TokenService
    hub: Any  # v6lib.server.events.EventHub
    settings: ServiceSettings
    clock: Callable[[], datetime]
    max_request_bytes: int
    version: str
    mailer: MailOutbox | None = None
    # reverse proxies whose X-Forwarded-For is believed (``client_address``)
    trusted_proxies: tuple[IPNetwork, ...] = ()
    long_polls: Any = None  # v6lib.server.events.long_polls.LongPollGate
    # principals of users and nodes between requests (``permissions.cache``)
    principals: PrincipalCache = field(default_factory=PrincipalCache)
