"""Login attempts per (account, source address), counted atomically before each check.

``admit`` takes one numbered slot for an attempt under a row lock and commits it
*before* the password or key is checked, so concurrent attempts see each other's slots
(whatever the database: ``SELECT ... FOR UPDATE`` on PostgreSQL, SQLite's single
writer) and a burst can never get more checks than the policy allows. The slot stays
counted when the check fails; ``forget`` clears it after a success. The arithmetic is
in ``v6lib.server.auth.throttle``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from v6lib.server.auth.throttle import Attempts, throttled_error
from v6lib.server.auth.throttle import admit as decide
from v6lib.server.client_address import source_key
from v6lib.server.db.engine import begin_write
from v6lib.server.db.models import LoginThrottle
from v6lib.server.services.context import ServiceContext

__all__ = ["admit", "count_request", "forget", "node_subject", "user_subject"]


def user_subject(username: str) -> str:
    """Throttle key of a user login: the name as given, known or not (no enumeration)."""
    return f"user:{username}"


def node_subject(selector: str | None) -> str:
    """Throttle key of a node login: its key's selector; one bucket for malformed keys."""
    return f"node:{selector or '?'}"


def _insert(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(LoginThrottle)


def _locked_row(session: Session, subject: str, source: str) -> LoginThrottle:
    """The pair's row, created if missing, locked until the transaction ends."""
    while True:
        session.execute(_insert(session).values(subject=subject, source=source, attempts=0)
                        .on_conflict_do_nothing())
        row = session.execute(
            select(LoginThrottle)
            .where(LoginThrottle.subject == subject, LoginThrottle.source == source)
            .with_for_update()
            .execution_options(populate_existing=True)).scalar_one_or_none()
        if row is not None:
            return row
        # NOTE: ``forget`` of another login pruned this (long idle) row between the two
        # statements; PostgreSQL then finds nothing to lock: insert it again.


def admit(ctx: ServiceContext, subject: str, client: str) -> None:
    """Count one attempt of the address ``client`` on ``subject``, or refuse it uncounted.

    Commits the request's transaction (the slot must be visible to concurrent attempts
    and must survive the rollback of a failed login).

    Raises:
        RateLimitedError: the source must wait; ``retry_after_seconds`` says how long.
    """
    session, now = ctx.session, ctx.now()
    begin_write(session)
    row = _locked_row(session, subject, source_key(client))
    decision = decide(Attempts(row.attempts or 0, row.last_attempt_at), now,
                      ctx.settings.login_throttle)
    if decision.admitted:
        row.attempts = decision.attempts.count
        row.last_attempt_at = decision.attempts.last_at
    session.commit()
    if not decision.admitted:
        raise throttled_error(decision.retry_after)


def count_request(ctx: ServiceContext, subject: str, source: str, *, limit: int,
                  window: timedelta) -> timedelta | None:
    """A plain rate limit in the same table: count one request of ``source`` on
    ``subject``, unless ``limit`` were counted within ``window``; then the time to wait.

    Counts are forgotten ``window`` after the last one. Runs in the request's
    transaction (the row stays locked until it ends).
    """
    session, now = ctx.session, ctx.now()
    begin_write(session)
    row = _locked_row(session, subject, source)
    if row.last_attempt_at is None or now - row.last_attempt_at >= window:
        row.attempts = 0
    if (row.attempts or 0) >= limit:
        assert row.last_attempt_at is not None
        return row.last_attempt_at + window - now
    row.attempts = (row.attempts or 0) + 1
    row.last_attempt_at = now
    return None


def forget(ctx: ServiceContext, subject: str, client: str) -> None:
    """A success: the address ``client`` starts afresh on ``subject``. Also drops
    long-idle rows.

    Runs in the request's transaction (committed with the login).
    """
    begin_write(ctx.session)
    expired = ctx.now() - ctx.settings.login_throttle.forget_after
    ctx.session.execute(delete(LoginThrottle).where(
        LoginThrottle.subject == subject, LoginThrottle.source == source_key(client)))
    ctx.session.execute(delete(LoginThrottle).where(LoginThrottle.last_attempt_at < expired))
