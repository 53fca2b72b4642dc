"""What every service call needs: the DB session, the caller, the clock and settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from v6lib.errors import AuthenticationError
from v6lib.server.auth.passwords import DEFAULT_COST, KdfCost, PasswordPolicy
from v6lib.server.auth.throttle import ThrottlePolicy
from v6lib.server.auth.tokens import TokenService
from v6lib.server.mail import Mailer
from v6lib.server.permissions.principal import Principal

__all__ = ["MAX_EVENT_TIMEOUT", "EventPublisher", "ServiceContext", "ServiceSettings"]

#: Longest a long-poll (``/event``, ``/task/{id}/wait``) is held, in seconds.
MAX_EVENT_TIMEOUT = 60.0


class EventPublisher(Protocol):
    """The part of the event hub the services use: add an event in the caller's transaction."""

    def publish(self, session: Session, type: str, *, task_id: int,
                run_id: int | None = None, organization_id: int | None = None,
                collaboration_id: int | None = None, status: str | None = None) -> Any: ...

    def publish_all(self, session: Session, type: str,
                    events: list[dict[str, Any]]) -> Any: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceSettings:
    """Knobs of the service layer, taken from the server config at wiring time."""

    kdf_cost: KdfCost = DEFAULT_COST
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    # how fast one address may try one account (``auth.throttle``)
    login_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    mfa_required: bool = False
    container_token_ttl: timedelta = timedelta(hours=24)
    # account recovery: token lifetime, and requests per account/address per window
    reset_token_minutes: float = 30
    recovery_per_account: int = 3
    recovery_per_address: int = 20
    recovery_window_minutes: float = 15
    server_name: str = "server"
    # the issuer authenticator apps show next to the account (vantage6's server_name)
    totp_issuer: str = "v6lib"
    support_email: str | None = None
    # a polling node is never silent longer than one long-poll; missing two of them
    # means it is gone (derived when read, no background job)
    node_offline_after: timedelta = timedelta(seconds=2 * MAX_EVENT_TIMEOUT)
    # "last seen" is written at most this often per node (each poll would be a write)
    node_seen_every: timedelta = timedelta(seconds=30)
    api_path: str = "/api"
    # largest raw result body (PUT /run/{id}/result), streamed in chunks
    max_result_bytes: int = 2 * 1024 * 1024 * 1024


@dataclass
class ServiceContext:
    """One unit of work: services read the caller from here and write through ``session``."""

    session: Session
    tokens: TokenService
    events: EventPublisher
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    principal: Principal | None = None
    clock: Callable[[], datetime] = _utcnow
    # sends account-recovery mail; None when the server has no smtp section
    mailer: Mailer | None = None

    @property
    def me(self) -> Principal:
        """The authenticated caller; services that need one call this."""
        if self.principal is None:
            raise AuthenticationError("this needs an access token (Authorization: Bearer ...)")
        return self.principal

    def now(self) -> datetime:
        return self.clock()
