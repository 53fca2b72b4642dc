"""Who may hand out which roles and rules: never more than the granter holds."""

from __future__ import annotations

from collections.abc import Iterable

from v6lib.errors import PermissionDenied, ValidationError
from v6lib.server.db.models import Role, Rule
from v6lib.server.permissions.principal import Principal
from v6lib.server.permissions.rules import RuleKey

__all__ = ["check_grantable_roles", "check_grantable_rules"]


def check_grantable_rules(principal: Principal, rules: Iterable[Rule]) -> None:
    lacking = [r.id for r in rules
               if RuleKey(r.name, r.scope, r.operation) not in principal.rules]
    if lacking:
        raise PermissionDenied(f"you cannot grant rules you do not hold yourself: {lacking}",
                               details={"rule_ids": lacking})


def check_grantable_roles(principal: Principal, roles: Iterable[Role],
                          organization_id: int) -> None:
    roles = list(roles)
    foreign = [r.id for r in roles
               if r.organization_id is not None and r.organization_id != organization_id]
    if foreign:
        raise ValidationError(
            f"role_ids: roles {foreign} belong to another organization",
            details={"field": "role_ids"})
    for role in roles:
        check_grantable_rules(principal, role.rules)
