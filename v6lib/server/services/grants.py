"""Who may hand out which roles and rules: never more than the granter holds."""

from __future__ import annotations

from collections.abc import Iterable

from v6lib.errors import PermissionDenied, ValidationError
from v6lib.server.db.models import Role, Rule, User
from v6lib.server.permissions.principal import Principal, user_rules
from v6lib.server.permissions.rules import RuleKey

__all__ = ["check_grantable_roles", "check_grantable_rules", "check_manageable_user"]


def check_manageable_user(principal: Principal, user: User, doing: str) -> None:
    """Refuse managing another user who holds rules the caller does not.

    Why: an Organization Admin may edit and delete the users of its organization, but a
    Root account that happens to belong to it must not be taken over or removed by
    someone with fewer rights. One's own account is always one's own.
    """
    if user.id == principal.user_id:
        return
    beyond = user_rules(user) - principal.rules
    if beyond:
        raise PermissionDenied(
            f"you cannot {doing} user {user.id}: they hold {len(beyond)} rule(s) you do not "
            "hold yourself", details={"user_id": user.id})


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
