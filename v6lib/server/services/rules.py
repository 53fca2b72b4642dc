"""Rule use cases: the catalogue is read-only over the API."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from v6lib.server.db.models import Rule, role_rule, user_rule
from v6lib.server.permissions.policy import visible_filter
from v6lib.server.services.common import get_visible, linked, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.sorting import order_by

__all__ = ["get_rule", "list_rules"]


def list_rules(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
               sort: str | None = None,
               name: str | None = None, scope: str | None = None,
               operation: str | None = None, role_id: int | None = None,
               user_id: int | None = None) -> tuple[Sequence[Rule], int]:
    stmt = select(Rule).where(visible_filter(ctx.me, "rule"))
    for column, value in ((Rule.name, name), (Rule.scope, scope),
                          (Rule.operation, operation)):
        if value is not None:
            stmt = stmt.where(column == value)
    if role_id is not None:
        stmt = stmt.where(Rule.id.in_(linked(role_rule.c.rule_id, role_rule.c.role_id, role_id)))
    if user_id is not None:
        stmt = stmt.where(Rule.id.in_(linked(user_rule.c.rule_id, user_rule.c.user_id, user_id)))
    return paginate(ctx.session, stmt.order_by(*order_by(Rule, "rule", sort)), page,
                    per_page)


def get_rule(ctx: ServiceContext, rule_id: int) -> Rule:
    return get_visible(ctx.session, Rule, rule_id, ctx.me, "rule")
