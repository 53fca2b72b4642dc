"""Account recovery: a lost password or a lost second factor, through one-time tokens.

``/recover/lost`` and ``/recover/2fa/lost`` answer the same whether or not the account
exists, and are rate limited per requested username or email and per client address.
When the account exists (for 2FA: and has a second factor) and has an email address, a
token is mailed through the configured SMTP server once the request has committed.
Without an ``smtp`` section nothing is sent; the server logs that recovery mail is not
configured, and an administrator issues a token with ``v6 server reset-password``.

Tokens are stored as digests only (``auth.reset_tokens``), are single-use, expire after
``email_token_validity_minutes``, and a newer token (of either purpose) replaces the one
outstanding. They are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from v6lib.errors import AuthenticationError, ConflictError, NotFoundError, RateLimitedError
from v6lib.schemas.token import Message, RecoverLost, RecoverMfaReset, RecoverReset
from v6lib.server.auth.passwords import verify_secret
from v6lib.server.auth.reset_tokens import Purpose, new_token, token_digest
from v6lib.server.client_address import source_key
from v6lib.server.db.models import User
from v6lib.server.mail import Mail, Mailer
from v6lib.server.services import login_throttle
from v6lib.server.services.accounts import end_sessions, set_password
from v6lib.server.services.context import ServiceContext, ServiceSettings

__all__ = ["admin_reset_token", "issue_reset_token", "recovery_mail", "request_recovery",
           "reset_mfa", "reset_password"]

log = logging.getLogger("v6lib.server.recover")

_SAME_ANSWER = ("if the account exists and has an email address, a recovery token has "
                "been mailed to it")
_WHAT = {"password": "password reset", "mfa": "two-factor authentication reset"}


def issue_reset_token(user: User, purpose: Purpose, *, now: datetime, minutes: float) -> str:
    """Give ``user`` a new recovery token (replacing any other) and return it in clear.

    Only its digest is stored; the caller sends or shows the token and commits.
    """
    token = new_token()
    user.reset_token_hash = token_digest(token, purpose)
    user.reset_token_expires_at = now + timedelta(minutes=minutes)
    return token


def admin_reset_token(session: Session, username: str, purpose: Purpose, *, now: datetime,
                      minutes: float) -> str:
    """A recovery token for ``username``, for an administrator to hand over (CLI).

    Raises:
        NotFoundError: no such user.
        ConflictError: a two-factor reset for a user without a second factor.
    """
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    if purpose == "mfa" and user.mfa_secret is None:
        raise ConflictError(f"user {username!r} has no second factor to reset")
    token = issue_reset_token(user, purpose, now=now, minutes=minutes)
    log.info("%s token issued for user %s by an administrator", _WHAT[purpose], user.id)
    return token


def recovery_mail(user: User, purpose: Purpose, token: str, settings: ServiceSettings) -> Mail:
    """The message that carries ``token`` to ``user``."""
    assert user.email is not None
    minutes = int(settings.reset_token_minutes)
    if purpose == "password":
        use = (f"Set a new password with it: POST {settings.api_path}/recover/reset with "
               '{"reset_token": "<token>", "password": "<new password>"}, or in Python '
               "client.user.reset_password(token, new_password).")
    else:
        use = (f"Remove your second factor with it and your password: POST "
               f"{settings.api_path}/recover/2fa/reset with "
               '{"reset_token": "<token>", "password": "<your password>"}, or in Python '
               "client.user.reset_two_factor(token, password). You then set up two-factor "
               "authentication again at your next login.")
    support = f"\nQuestions: {settings.support_email}\n" if settings.support_email else ""
    body = (f"Hello {user.firstname or user.username},\n\n"
            f"someone, hopefully you, asked for a {_WHAT[purpose]} of the account "
            f"'{user.username}' on the v6lib server '{settings.server_name}'.\n\n"
            f"Recovery token (valid {minutes} minutes, usable once):\n\n    {token}\n\n"
            f"{use}\n\nIf you did not ask for this, ignore this message: nothing changes "
            f"unless the token is used.\n{support}")
    return Mail(to=user.email, subject=f"v6lib {_WHAT[purpose]} for '{user.username}'",
                body=body)


def _retry_error(left: timedelta) -> RateLimitedError:
    minutes = max(1, math.ceil(left.total_seconds() / 60))
    return RateLimitedError(
        f"too many recovery requests; try again in {minutes} minute{'s' * (minutes != 1)}",
        details={"retry_after_seconds": math.ceil(left.total_seconds())})


def _throttle(ctx: ServiceContext, what: str, value: str, limit: int) -> None:
    """Count one request for ``what`` ``value``; refuse once ``limit`` are recent.

    Counted in the login throttle's table, so every worker and instance sees the same
    count. The value is hashed: no email address of a non-user is stored.
    """
    subject = f"recover:{what}:" + hashlib.sha256(value.encode()).hexdigest()[:40]
    left = login_throttle.count_request(
        ctx, subject, "*", limit=limit,
        window=timedelta(minutes=ctx.settings.recovery_window_minutes))
    if left is not None:
        raise _retry_error(left)


def _send_after_commit(session: Session, mailer: Mailer, mail: Mail) -> None:
    # NOTE: sent only once the token is stored, and never when the request rolls back.
    event.listen(session, "after_commit", lambda _session: mailer.submit(mail), once=True)


def request_recovery(ctx: ServiceContext, payload: RecoverLost, purpose: Purpose, *,
                     client: str) -> Message:
    """Mail a recovery token for ``purpose`` when the account exists; same answer always.

    Raises:
        RateLimitedError: too many requests for this username/email or from ``client``.
    """
    identifier = (payload.username or payload.email or "").strip().lower()
    _throttle(ctx, "account", identifier, ctx.settings.recovery_per_account)
    _throttle(ctx, "address", source_key(client), ctx.settings.recovery_per_address)
    column = User.username == payload.username if payload.username else \
        User.email == payload.email
    user = ctx.session.scalars(select(User).where(column)).first()
    if user is None or (purpose == "mfa" and user.mfa_secret is None):
        log.info("%s requested for no account (or one without a second factor)",
                 _WHAT[purpose])
    elif ctx.mailer is None:
        log.warning("%s requested for user %s, but recovery mail is not configured (no smtp "
                    "section): nothing was sent; an administrator can issue a token with "
                    "`v6 server reset-password`", _WHAT[purpose], user.id)
    elif not user.email:
        log.warning("%s requested for user %s, who has no email address: nothing was sent; "
                    "an administrator can issue a token with `v6 server reset-password`",
                    _WHAT[purpose], user.id)
    else:
        token = issue_reset_token(user, purpose, now=ctx.now(),
                                  minutes=ctx.settings.reset_token_minutes)
        _send_after_commit(ctx.session, ctx.mailer,
                           recovery_mail(user, purpose, token, ctx.settings))
        log.info("%s token issued for user %s; mailing it", _WHAT[purpose], user.id)
    return Message(msg=_SAME_ANSWER)


def _token_holder(ctx: ServiceContext, token: str, purpose: Purpose) -> User:
    # FOR UPDATE: of two requests with one token, the second finds it spent (PostgreSQL);
    # SQLite writers are serialized anyway
    user = ctx.session.scalars(
        select(User).where(User.reset_token_hash == token_digest(token, purpose))
        .with_for_update()).first()
    if user is None or user.reset_token_expires_at is None or \
            user.reset_token_expires_at <= ctx.now():
        raise AuthenticationError("reset token is invalid or expired; request a new one")
    return user


def _spend(user: User) -> None:
    user.reset_token_hash = None
    user.reset_token_expires_at = None


def reset_password(ctx: ServiceContext, payload: RecoverReset) -> Message:
    """Set a new password with a password-reset token; every session of the user ends."""
    user = _token_holder(ctx, payload.reset_token, "password")
    set_password(ctx, user, payload.password)
    _spend(user)
    log.info("password of user %s reset with a recovery token", user.id)
    return Message(msg="password reset; log in with the new password")


def reset_mfa(ctx: ServiceContext, payload: RecoverMfaReset, *, client: str = "") -> Message:
    """Remove the user's second factor, given a two-factor reset token and the password.

    A wrong password counts against the login throttle of (account, ``client``), like a
    failed login, and leaves the token valid.
    """
    user = _token_holder(ctx, payload.reset_token, "mfa")
    subject = login_throttle.user_subject(user.username)
    login_throttle.admit(ctx, subject, client)  # commits: the count survives a refusal
    user = _token_holder(ctx, payload.reset_token, "mfa")
    if not verify_secret(user.password_hash, payload.password):
        raise AuthenticationError("password is wrong")
    login_throttle.forget(ctx, subject, client)
    user.mfa_secret = None
    user.mfa_last_step = None
    end_sessions(user)
    _spend(user)
    log.info("two-factor authentication of user %s removed with a recovery token", user.id)
    again = " and set up two-factor authentication again" if ctx.settings.mfa_required else ""
    return Message(msg=f"two-factor authentication removed; log in with your password{again}")
