"""The caller's own permissions, as the permission engine sees them.

Interfaces (the web UI) use this to offer only what the caller may do; the engine in
``server.permissions.policy`` still judges every request, so a forged one is refused.
"""

from __future__ import annotations

from v6lib.schemas.permission import PermissionsOut, RuleGrant
from v6lib.server.services.context import ServiceContext

__all__ = ["caller_permissions"]


def caller_permissions(ctx: ServiceContext) -> PermissionsOut:
    """The rules, organization and collaborations of the authenticated caller."""
    me = ctx.me
    rules = sorted(me.rules)
    return PermissionsOut(
        kind=me.kind, user_id=me.user_id, organization_id=me.organization_id,
        collaboration_ids=sorted(me.collaboration_ids),
        collab_org_ids=sorted(me.collab_org_ids),
        rules=[RuleGrant(name=r.name, scope=r.scope, operation=r.operation) for r in rules])
