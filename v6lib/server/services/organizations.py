"""Organization use cases: list, view, create and edit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from v6lib.errors import ConflictError, PermissionDenied
from v6lib.schemas.organization import OrganizationIn, OrganizationPatch
from v6lib.server.db.models import Organization, collaboration_organization
from v6lib.server.permissions.policy import require, require_own_organization, visible_filter
from v6lib.server.services.common import get_visible, linked, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.sorting import order_by

__all__ = ["create_organization", "get_organization", "list_organizations",
           "update_organization"]


def list_organizations(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
                       sort: str | None = None,
                       name: str | None = None,
                       collaboration_id: int | None = None
                       ) -> tuple[Sequence[Organization], int]:
    stmt = select(Organization).where(visible_filter(ctx.me, "organization"))
    if name is not None:
        stmt = stmt.where(Organization.name.like(f"%{name}%"))
    if collaboration_id is not None:
        co = collaboration_organization
        stmt = stmt.where(Organization.id.in_(
            linked(co.c.organization_id, co.c.collaboration_id, collaboration_id)))
    return paginate(ctx.session, stmt.order_by(*order_by(Organization, "organization", sort)), page,
                    per_page)


def get_organization(ctx: ServiceContext, organization_id: int) -> Organization:
    return get_visible(ctx.session, Organization, organization_id, ctx.me, "organization")


def _flush_unique(ctx: ServiceContext, what: str) -> None:
    try:
        with ctx.session.begin_nested():
            ctx.session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"{what} already exists") from exc


def create_organization(ctx: ServiceContext, payload: OrganizationIn) -> Organization:
    require(ctx.me, "create", "organization")
    org = Organization(**payload.model_dump())
    ctx.session.add(org)
    _flush_unique(ctx, f"an organization named {payload.name!r}")
    return org


def update_organization(ctx: ServiceContext, organization_id: int,
                        payload: OrganizationPatch) -> Organization:
    org = get_organization(ctx, organization_id)
    changes = payload.model_dump(exclude_unset=True)
    _require_edit(ctx, org, changes)
    for key, value in changes.items():
        if key == "name" and value is None:
            continue
        setattr(org, key, value)
    _flush_unique(ctx, f"an organization named {org.name!r}")
    return org


def _require_edit(ctx: ServiceContext, org: Organization, changes: dict) -> None:
    """Users need the ``edit organization`` rule; a node may only set its own
    organization's public key (it uploads the key it encrypts with at start)."""
    me = ctx.me
    if me.is_node:
        if org.id != me.organization_id:
            raise PermissionDenied("a node may only edit its own organization")
        if set(changes) != {"public_key"} or changes["public_key"] is None:
            raise PermissionDenied(
                "a node may only set its own organization's public_key; "
                "other fields need a user with the edit organization rule")
        return
    require(me, "edit", "organization", organization_ids=[org.id])
    if "public_key" in changes:
        require_own_organization(me, "edit", "organization", org.id, "set its public key")


flush_unique = _flush_unique
