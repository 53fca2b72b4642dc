"""Collaboration use cases, including adding and removing member organizations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from v6lib.errors import ValidationError
from v6lib.schemas.collaboration import CollaborationIn, CollaborationPatch
from v6lib.server.db.models import (
    Collaboration,
    Node,
    Organization,
    Task,
    collaboration_organization,
)
from v6lib.server.permissions.policy import require, visible_filter
from v6lib.server.services.common import check_ids_exist, get_visible, linked, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.organizations import flush_unique
from v6lib.server.services.tasks import kill_runs

__all__ = ["add_organization", "create_collaboration", "delete_collaboration",
           "get_collaboration", "list_collaborations", "remove_organization",
           "update_collaboration"]


def list_collaborations(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
                        name: str | None = None, organization_id: int | None = None
                        ) -> tuple[Sequence[Collaboration], int]:
    stmt = select(Collaboration).where(visible_filter(ctx.me, "collaboration"))
    if name is not None:
        stmt = stmt.where(Collaboration.name.like(f"%{name}%"))
    if organization_id is not None:
        co = collaboration_organization
        stmt = stmt.where(Collaboration.id.in_(
            linked(co.c.collaboration_id, co.c.organization_id, organization_id)))
    return paginate(ctx.session, stmt.order_by(Collaboration.id), page, per_page)


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
    if data.get("encrypted") is not None:
        collab.encrypted = data["encrypted"]
    if data.get("organization_ids") is not None:
        orgs = check_ids_exist(ctx.session, Organization, data["organization_ids"],
                               "organization_ids")
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


def add_organization(ctx: ServiceContext, collaboration_id: int,
                     organization_id: int) -> Collaboration:
    collab = get_collaboration(ctx, collaboration_id)
    require(ctx.me, "edit", "collaboration", collaboration_id=collab.id)
    (org,) = check_ids_exist(ctx.session, Organization, [organization_id], "id")
    if org.id not in collab.organization_ids:
        collab.organizations.append(org)
        ctx.session.flush()
    return collab


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
