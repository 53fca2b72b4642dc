"""Role use cases; default roles (organization_id null) need global rights to change.

Default roles are the server's fixed vocabulary (bootstrap re-applies their rules on
every start): they cannot be deleted, renamed or given other rules; only their
description may be edited.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from v6lib.errors import ConflictError
from v6lib.schemas.role import RoleIn, RolePatch
from v6lib.server.db.models import Role, Rule, user_role
from v6lib.server.permissions.policy import require, visible_filter
from v6lib.server.permissions.roles import DEFAULT_ROLES
from v6lib.server.services.common import (
    check_ids_exist,
    creation_organization,
    get_visible,
    linked,
    paginate,
)
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.grants import check_grantable_rules
from v6lib.server.services.organizations import flush_unique
from v6lib.server.services.sorting import order_by

__all__ = ["create_role", "delete_role", "get_role", "list_roles", "update_role"]


def list_roles(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
               sort: str | None = None,
               organization_id: int | None = None, user_id: int | None = None,
               name: str | None = None, include_default: bool = True
               ) -> tuple[Sequence[Role], int]:
    stmt = select(Role).where(visible_filter(ctx.me, "role"))
    if organization_id is not None:
        cond = Role.organization_id == organization_id
        stmt = stmt.where(or_(cond, Role.organization_id.is_(None)) if include_default
                          else cond)
    elif not include_default:
        stmt = stmt.where(Role.organization_id.is_not(None))
    if user_id is not None:
        stmt = stmt.where(Role.id.in_(linked(user_role.c.role_id, user_role.c.user_id,
                                             user_id)))
    if name is not None:
        stmt = stmt.where(Role.name.like(f"%{name}%"))
    return paginate(ctx.session, stmt.order_by(*order_by(Role, "role", sort)), page,
                    per_page)


def get_role(ctx: ServiceContext, role_id: int) -> Role:
    return get_visible(ctx.session, Role, role_id, ctx.me, "role")


def create_role(ctx: ServiceContext, payload: RoleIn) -> Role:
    me = ctx.me
    org_id = creation_organization(ctx, payload.organization_id, "role")
    _check_role_name(payload.name)
    rules = check_ids_exist(ctx.session, Rule, payload.rule_ids, "rule_ids")
    check_grantable_rules(me, rules)
    role = Role(name=payload.name, description=payload.description, organization_id=org_id,
                rules=rules)
    ctx.session.add(role)
    flush_unique(ctx, f"a role named {payload.name!r} in this organization")
    return role


def update_role(ctx: ServiceContext, role_id: int, payload: RolePatch) -> Role:
    me = ctx.me
    role = get_role(ctx, role_id)
    require(me, "edit", "role", organization_ids=[role.organization_id])
    data = payload.model_dump(exclude_unset=True)
    if role.organization_id is None:
        _check_default_role_edit(role, data)
    if data.get("name") is not None:
        if role.organization_id is not None:
            _check_role_name(data["name"])
        role.name = data["name"]
    if "description" in data:
        role.description = data["description"]
    if data.get("rule_ids") is not None:
        rules = check_ids_exist(ctx.session, Rule, data["rule_ids"], "rule_ids")
        changed = set(data["rule_ids"]) ^ set(role.rule_ids)
        check_grantable_rules(me, [r for r in [*rules, *role.rules] if r.id in changed])
        role.rules = rules
    flush_unique(ctx, f"a role named {role.name!r} in this organization")
    return role


def _check_role_name(name: str) -> None:
    """An organization's role cannot pass itself off as a default role ("Root", ...)."""
    reserved = {n.casefold() for n in DEFAULT_ROLES}
    if " ".join(name.split()).casefold() in reserved:
        raise ConflictError(
            f"role name {name!r} is reserved for a default role; choose another name",
            details={"field": "name"})


def _check_default_role_edit(role: Role, data: dict) -> None:
    """Only the description of a default role may change."""
    renamed = data.get("name") is not None and data["name"] != role.name
    rules = data.get("rule_ids")
    regranted = rules is not None and set(rules) != set(role.rule_ids)
    if renamed or regranted:
        raise ConflictError(
            f"role {role.name!r} is a default role: only its description can be edited; "
            "create a role of your organization for other rule sets",
            details={"role_id": role.id, "default_role": True})


def delete_role(ctx: ServiceContext, role_id: int) -> None:
    role = get_role(ctx, role_id)
    require(ctx.me, "delete", "role", organization_ids=[role.organization_id])
    if role.organization_id is None:
        raise ConflictError(
            f"role {role.name!r} is a default role and cannot be deleted; remove it from "
            "users instead", details={"role_id": role.id, "default_role": True})
    ctx.session.delete(role)
    ctx.session.flush()
