"""User use cases: accounts with roles and extra rules, never more than the granter has."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from v6lib.errors import ConflictError
from v6lib.schemas.token import Message
from v6lib.schemas.user import UserIn, UserPatch
from v6lib.server.auth.passwords import check_password_policy, hash_secret
from v6lib.server.db.models import Role, Rule, User, user_role
from v6lib.server.permissions.policy import require, visible_filter
from v6lib.server.services.common import (
    check_ids_exist,
    creation_organization,
    get_visible,
    linked,
    paginate,
)
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.grants import (
    check_grantable_roles,
    check_grantable_rules,
    check_manageable_user,
)
from v6lib.server.services.organizations import flush_unique
from v6lib.server.services.sorting import order_by

__all__ = ["create_user", "delete_user", "get_user", "list_users", "reset_user_mfa",
           "update_user"]


def list_users(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
               sort: str | None = None,
               organization_id: int | None = None, username: str | None = None,
               role_id: int | None = None) -> tuple[Sequence[User], int]:
    stmt = select(User).where(visible_filter(ctx.me, "user"))
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    if username is not None:
        stmt = stmt.where(User.username.like(f"%{username}%"))
    if role_id is not None:
        stmt = stmt.where(User.id.in_(linked(user_role.c.user_id, user_role.c.role_id,
                                             role_id)))
    return paginate(ctx.session, stmt.order_by(*order_by(User, "user", sort)), page,
                    per_page)


def get_user(ctx: ServiceContext, user_id: int) -> User:
    return get_visible(ctx.session, User, user_id, ctx.me, "user")


def create_user(ctx: ServiceContext, payload: UserIn) -> User:
    me = ctx.me
    org_id = creation_organization(ctx, payload.organization_id, "user")
    check_password_policy(payload.password, ctx.settings.password_policy,
                          username=payload.username)
    roles = check_ids_exist(ctx.session, Role, payload.role_ids, "role_ids")
    rules = check_ids_exist(ctx.session, Rule, payload.rule_ids, "rule_ids")
    check_grantable_roles(me, roles, org_id)
    check_grantable_rules(me, rules)
    user = User(
        username=payload.username, email=payload.email, firstname=payload.firstname,
        lastname=payload.lastname, organization_id=org_id,
        password_hash=hash_secret(payload.password, cost=ctx.settings.kdf_cost),
        roles=roles, rules=rules,
    )
    ctx.session.add(user)
    flush_unique(ctx, f"a user named {payload.username!r} (or with this email)")
    return user


def update_user(ctx: ServiceContext, user_id: int, payload: UserPatch) -> User:
    me = ctx.me
    user = get_user(ctx, user_id)
    require(me, "edit", "user", organization_ids=[user.organization_id], owner_id=user.id)
    check_manageable_user(me, user, "edit")
    data = payload.model_dump(exclude_unset=True)
    for key in ("email", "firstname", "lastname"):
        if key in data:
            setattr(user, key, data[key])
    if data.get("role_ids") is not None:
        roles = check_ids_exist(ctx.session, Role, data["role_ids"], "role_ids")
        changed = set(data["role_ids"]) ^ set(user.role_ids)
        check_grantable_roles(me, [r for r in roles if r.id in changed], user.organization_id)
        check_grantable_roles(me, [r for r in user.roles if r.id in changed],
                              user.organization_id)
        user.roles = roles
    if data.get("rule_ids") is not None:
        rules = check_ids_exist(ctx.session, Rule, data["rule_ids"], "rule_ids")
        changed = set(data["rule_ids"]) ^ set(user.rule_ids)
        check_grantable_rules(me, [r for r in [*rules, *user.rules] if r.id in changed])
        user.rules = rules
    flush_unique(ctx, "a user with this email")
    return user


def delete_user(ctx: ServiceContext, user_id: int) -> None:
    user = get_user(ctx, user_id)
    require(ctx.me, "delete", "user", organization_ids=[user.organization_id],
            owner_id=user.id)
    if user.id == ctx.me.user_id:
        raise ConflictError("you cannot delete your own account")
    check_manageable_user(ctx.me, user, "delete")
    ctx.session.delete(user)
    ctx.session.flush()


def reset_user_mfa(ctx: ServiceContext, user_id: int) -> Message:
    """Remove ``user_id``'s second factor, as an administrator who may edit that user.

    Why: a person who lost their authenticator and has no mail configured otherwise
    needs the server operator's shell. The same checks as editing the user apply, so an
    Organization Admin cannot strip the second factor of a Root account.
    """
    user = get_user(ctx, user_id)
    require(ctx.me, "edit", "user", organization_ids=[user.organization_id],
            owner_id=user.id)
    check_manageable_user(ctx.me, user, "reset the second factor of")
    user.mfa_secret = None
    user.mfa_last_step = None
    ctx.session.flush()
    return Message(msg=f"two-factor authentication of user {user.id} removed; it is set up "
                       "again at the next login where the server requires it")
