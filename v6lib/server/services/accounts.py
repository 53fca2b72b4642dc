"""Password change and the lost-password flow.

There is no mail server: ``recover_lost`` writes the short-lived reset token to the
server log (logger ``v6lib.server.recover``, level WARNING) for an administrator to pass
on; ``recover_reset`` exchanges it for a new password.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import or_, select

from v6lib.errors import AuthenticationError, ValidationError
from v6lib.schemas.token import Message, PasswordChange, RecoverLost, RecoverReset
from v6lib.server.auth.passwords import check_password_policy, hash_secret, verify_secret
from v6lib.server.db.engine import begin_write
from v6lib.server.db.models import User
from v6lib.server.services import login_throttle
from v6lib.server.services.context import ServiceContext

__all__ = ["change_password", "recover_lost", "recover_reset"]

log = logging.getLogger("v6lib.server.recover")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _set_password(ctx: ServiceContext, user: User, password: str) -> None:
    check_password_policy(password, ctx.settings.password_policy, username=user.username)
    user.password_hash = hash_secret(password, cost=ctx.settings.kdf_cost)
    user.password_changed_at = ctx.now()
    user.token_generation = (user.token_generation or 0) + 1  # revokes every older token


def change_password(ctx: ServiceContext, payload: PasswordChange, *,
                    client: str = "") -> Message:
    """Change the caller's password, given the current one.

    Guesses of ``current_password`` count against the same throttle as logins, so a
    stolen access token does not open an unthrottled way to test passwords.
    """
    me = ctx.me
    user = ctx.session.get(User, me.user_id) if me.is_user else None
    if user is None:
        raise AuthenticationError("only users have a password")
    subject = login_throttle.user_subject(user.username)
    login_throttle.admit(ctx, subject, client)
    if not verify_secret(user.password_hash, payload.current_password):
        raise AuthenticationError("current_password is wrong")
    begin_write(ctx.session)
    login_throttle.forget(ctx, subject, client)
    if payload.new_password == payload.current_password:
        raise ValidationError("new_password must differ from current_password",
                              details={"field": "new_password"})
    _set_password(ctx, user, payload.new_password)
    return Message(msg="password changed; log in again")


def recover_lost(ctx: ServiceContext, payload: RecoverLost) -> Message:
    """Create a reset token; the answer is the same whether or not the user exists."""
    conds = []
    if payload.username:
        conds.append(User.username == payload.username)
    if payload.email:
        conds.append(User.email == payload.email)
    user = ctx.session.scalars(select(User).where(or_(*conds))).first()
    if user is not None:
        token = secrets.token_urlsafe(24)
        user.reset_token_hash = _digest(token)
        user.reset_token_expires_at = ctx.now() + timedelta(
            minutes=ctx.settings.reset_token_minutes)
        log.warning("password reset token for user %r (id %s), valid %s minutes: %s",
                    user.username, user.id, ctx.settings.reset_token_minutes, token)
    return Message(msg="if the account exists, a reset token was issued to the administrator")


def recover_reset(ctx: ServiceContext, payload: RecoverReset) -> Message:
    user = ctx.session.scalars(
        select(User).where(User.reset_token_hash == _digest(payload.reset_token))).first()
    if user is None or user.reset_token_expires_at is None or \
            user.reset_token_expires_at < ctx.now():
        raise AuthenticationError("reset token is invalid or expired; request a new one")
    _set_password(ctx, user, payload.password)
    user.reset_token_hash = None
    user.reset_token_expires_at = None
    return Message(msg="password reset; log in with the new password")
