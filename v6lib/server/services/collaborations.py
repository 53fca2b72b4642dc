"""Collaboration use cases, including membership by mutual consent.

Membership decides who sees an organization's users and nodes and who may send its
node tasks, so it is never one-sided: a member's administrator invites, the joining
organization's own administrator accepts (either may come first); Root may do both at
once. Whether a collaboration is encrypted is fixed once it has tasks, and only Root
may lower it at all: members trusted the promise when they sent their data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, select

from v6lib.errors import ConflictError, PermissionDenied, ValidationError
from v6lib.schemas.collaboration import CollaborationIn, CollaborationPatch
from v6lib.server.db.models import (
    Collaboration,
    MembershipConsent,
    Node,
    Organization,
    Task,
    collaboration_organization,
)
from v6lib.server.permissions.policy import can, require, visible_filter
from v6lib.server.services.common import check_ids_exist, get_visible, linked, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.organizations import flush_unique
from v6lib.server.services.sorting import order_by
from v6lib.server.services.tasks import kill_runs

__all__ = ["Membership", "add_organization", "create_collaboration", "delete_collaboration",
           "get_collaboration", "list_collaborations", "remove_organization",
           "update_collaboration"]


def list_collaborations(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
                        sort: str | None = None,
                        name: str | None = None, organization_id: int | None = None
                        ) -> tuple[Sequence[Collaboration], int]:
    stmt = select(Collaboration).where(visible_filter(ctx.me, "collaboration"))
    if name is not None:
        stmt = stmt.where(Collaboration.name.like(f"%{name}%"))
    if organization_id is not None:
        co = collaboration_organization
        stmt = stmt.where(Collaboration.id.in_(
            linked(co.c.collaboration_id, co.c.organization_id, organization_id)))
    ordered = stmt.order_by(*order_by(Collaboration, "collaboration", sort))
    return paginate(ctx.session, ordered, page, per_page)


def get_collaboration(ctx: ServiceContext, collaboration_id: int) -> Collaboration:
    return get_visible(ctx.session, Collaboration, collaboration_id, ctx.me, "collaboration")


def create_collaboration(ctx: ServiceContext, payload: CollaborationIn) -> Collaboration:
    require(ctx.me, "create", "collaboration")
    orgs = check_ids_exist(ctx.session, Organization, payload.organization_ids,
                           "organization_ids")
    collab = Collaboration(name=payload.name, encrypted=payload.encrypted, organizations=orgs)
    ctx.session.add(collab)
    flush_unique(ctx, f"a collaboration named {payload.name!r}")
    return collab


def update_collaboration(ctx: ServiceContext, collaboration_id: int,
                         payload: CollaborationPatch) -> Collaboration:
    collab = get_collaboration(ctx, collaboration_id)
    require(ctx.me, "edit", "collaboration", collaboration_id=collab.id)
    data = payload.model_dump(exclude_unset=True)
    if data.get("name") is not None:
        collab.name = data["name"]
    if data.get("encrypted") is not None and data["encrypted"] != collab.encrypted:
        _check_encryption_change(ctx, collab, bool(data["encrypted"]))
        collab.encrypted = data["encrypted"]
    if data.get("organization_ids") is not None:
        orgs = check_ids_exist(ctx.session, Organization, data["organization_ids"],
                               "organization_ids")
        added = {o.id for o in orgs} - set(collab.organization_ids)
        if added and not _is_global(ctx):
            raise PermissionDenied(
                f"organizations {sorted(added)} must agree to join: invite them with POST "
                f"/collaboration/{collab.id}/organization, then an administrator of each "
                "accepts the same way", details={"organization_ids": sorted(added)})
        removed = set(collab.organization_ids) - {o.id for o in orgs}
        collab.organizations = orgs
        _drop_nodes(ctx, collab.id, removed)
    flush_unique(ctx, f"a collaboration named {collab.name!r}")
    return collab


def delete_collaboration(ctx: ServiceContext, collaboration_id: int) -> None:
    collab = get_collaboration(ctx, collaboration_id)
    require(ctx.me, "delete", "collaboration", collaboration_id=collab.id)
    # tell the nodes to stop whatever still runs before the tasks disappear
    kill_runs(ctx, list(ctx.session.scalars(
        select(Task.id).where(Task.collaboration_id == collab.id))))
    ctx.session.delete(collab)
    ctx.session.flush()


def _is_global(ctx: ServiceContext) -> bool:
    return "global" in ctx.me.scopes("collaboration", "edit")


def _check_encryption_change(ctx: ServiceContext, collab: Collaboration,
                             encrypted: bool) -> None:
    """The flag is a promise to every member: fixed once tasks exist, lowered by Root only."""
    if ctx.session.scalar(select(exists().where(Task.collaboration_id == collab.id))):
        raise ConflictError(
            f"collaboration {collab.id} already has tasks: whether it is encrypted can no "
            "longer change (its members sent data under the current setting); create a "
            "new collaboration instead", details={"field": "encrypted"})
    if not encrypted and not _is_global(ctx):
        raise PermissionDenied(
            "only root may switch encryption off for a collaboration",
            details={"field": "encrypted"})


@dataclass(frozen=True)
class Membership:
    """The answer to a membership request: joined, or waiting for the other side."""

    collaboration: Collaboration | None
    pending: str | None = None


def _consent_sides(ctx: ServiceContext, collaboration_id: int,
                   organization_id: int) -> list[str]:
    """Which sides the caller speaks for: the collaboration's, the organization's, both."""
    me = ctx.me
    sides = []
    if collaboration_id in me.collaboration_ids and \
            can(me, "edit", "collaboration", collaboration_id=collaboration_id):
        sides.append("collaboration")
    scopes = me.scopes("organization", "edit")
    if me.is_user and organization_id == me.organization_id and "organization" in scopes:
        sides.append("organization")
    return sides


def add_organization(ctx: ServiceContext, collaboration_id: int,
                     organization_id: int) -> Membership:
    """Invite (as a member's admin) or accept (as the organization's admin); Root adds.

    Until both sides agreed, the answer is ``pending`` and nothing changed but the
    recorded consent.
    """
    if _is_global(ctx):
        target = get_collaboration(ctx, collaboration_id)
        (member,) = check_ids_exist(ctx.session, Organization, [organization_id], "id")
        _join(ctx, target, member)
        return Membership(target)
    sides = _consent_sides(ctx, collaboration_id, organization_id)
    if not sides:
        raise PermissionDenied(
            f"you may neither invite organizations to collaboration {collaboration_id} nor "
            f"accept invitations for organization {organization_id}")
    collab = ctx.session.get(Collaboration, collaboration_id)
    org = ctx.session.get(Organization, organization_id)
    if collab is None or org is None:
        # NOTE: the same answer whether or not the other side exists: the caller may not
        # see it, and ids must not be enumerable through this endpoint.
        return Membership(None, _pending_message(collaboration_id, organization_id, sides))
    if org.id in collab.organization_ids:
        return Membership(collab)
    for side in sides:
        if ctx.session.get(MembershipConsent, (collab.id, org.id, side)) is None:
            ctx.session.add(MembershipConsent(
                collaboration_id=collab.id, organization_id=org.id, side=side,
                user_id=ctx.me.user_id, created_at=ctx.now()))
    ctx.session.flush()
    agreed = set(ctx.session.scalars(select(MembershipConsent.side).where(
        MembershipConsent.collaboration_id == collab.id,
        MembershipConsent.organization_id == org.id)))
    if agreed != {"collaboration", "organization"}:
        return Membership(None, _pending_message(collab.id, org.id, sides))
    _join(ctx, collab, org)
    return Membership(collab)


def _join(ctx: ServiceContext, collab: Collaboration, org: Organization) -> None:
    if org.id not in collab.organization_ids:
        collab.organizations.append(org)
    ctx.session.execute(delete(MembershipConsent).where(
        MembershipConsent.collaboration_id == collab.id,
        MembershipConsent.organization_id == org.id))
    ctx.session.flush()


def _pending_message(collaboration_id: int, organization_id: int, sides: list[str]) -> str:
    if "collaboration" in sides:
        return (f"organization {organization_id} is invited to collaboration "
                f"{collaboration_id} (if it exists); it joins when one of its administrators "
                f"accepts with POST /collaboration/{collaboration_id}/organization "
                f"{{\"id\": {organization_id}}}")
    return (f"organization {organization_id} agrees to join collaboration {collaboration_id} "
            "(if it exists); it joins once an administrator of a member organization invites "
            "it the same way")


def remove_organization(ctx: ServiceContext, collaboration_id: int,
                        organization_id: int) -> Collaboration:
    collab = get_collaboration(ctx, collaboration_id)
    require(ctx.me, "edit", "collaboration", collaboration_id=collab.id)
    if organization_id not in collab.organization_ids:
        raise ValidationError(
            f"organization {organization_id} is not a member of collaboration {collab.id}",
            details={"field": "id"})
    collab.organizations = [o for o in collab.organizations if o.id != organization_id]
    _drop_nodes(ctx, collab.id, {organization_id})
    ctx.session.flush()
    return collab


def _drop_nodes(ctx: ServiceContext, collaboration_id: int, org_ids: set[int]) -> None:
    """A node only makes sense while its organization is a member."""
    if org_ids:
        ctx.session.execute(delete(Node).where(Node.collaboration_id == collaboration_id,
                                               Node.organization_id.in_(org_ids)))
