"""Setting a user's password: changing one's own, and the rules every new password meets.

Account recovery (lost password, lost second factor) is in ``recovery``.
"""

from __future__ import annotations

from v6lib.errors import AuthenticationError, ValidationError
from v6lib.schemas.token import Message, PasswordChange
from v6lib.server.auth.passwords import check_password_policy, hash_secret, verify_secret
from v6lib.server.db.engine import begin_write
from v6lib.server.db.models import User
from v6lib.server.services import login_throttle
from v6lib.server.services.context import ServiceContext

__all__ = ["change_password", "end_sessions", "set_password"]


def end_sessions(user: User) -> None:
    """Refuse every token issued to ``user`` so far (user tokens carry the generation)."""
    user.token_generation = (user.token_generation or 0) + 1


def set_password(ctx: ServiceContext, user: User, password: str) -> None:
    """Give ``user`` a new password (checked against the policy) and end their sessions."""
    check_password_policy(password, ctx.settings.password_policy, username=user.username)
    user.password_hash = hash_secret(password, cost=ctx.settings.kdf_cost)
    user.password_changed_at = ctx.now()
    end_sessions(user)


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
    set_password(ctx, user, payload.new_password)
    return Message(msg="password changed; log in again")
