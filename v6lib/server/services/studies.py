"""Study use cases: subsets of a collaboration's organizations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from v6lib.errors import NotFoundError, ValidationError
from v6lib.schemas.study import StudyIn, StudyPatch
from v6lib.server.db.models import Collaboration, Organization, Study
from v6lib.server.permissions.policy import require, visible_filter
from v6lib.server.services.common import check_ids_exist, get_visible, paginate
from v6lib.server.services.context import ServiceContext
from v6lib.server.services.organizations import flush_unique
from v6lib.server.services.sorting import order_by

__all__ = ["create_study", "delete_study", "get_study", "list_studies", "update_study"]


def list_studies(ctx: ServiceContext, *, page: int = 1, per_page: int = 10,
                 sort: str | None = None,
                 collaboration_id: int | None = None, name: str | None = None
                 ) -> tuple[Sequence[Study], int]:
    stmt = select(Study).where(visible_filter(ctx.me, "study"))
    if collaboration_id is not None:
        stmt = stmt.where(Study.collaboration_id == collaboration_id)
    if name is not None:
        stmt = stmt.where(Study.name.like(f"%{name}%"))
    return paginate(ctx.session, stmt.order_by(*order_by(Study, "study", sort)), page,
                    per_page)


def get_study(ctx: ServiceContext, study_id: int) -> Study:
    return get_visible(ctx.session, Study, study_id, ctx.me, "study")


def _members(ctx: ServiceContext, collab: Collaboration, ids: list[int]) -> list[Organization]:
    orgs = check_ids_exist(ctx.session, Organization, ids, "organization_ids")
    outsiders = [o.id for o in orgs if o.id not in collab.organization_ids]
    if outsiders:
        raise ValidationError(
            f"organization_ids: {outsiders} are not members of collaboration {collab.id}",
            details={"field": "organization_ids"})
    return orgs


def create_study(ctx: ServiceContext, payload: StudyIn) -> Study:
    require(ctx.me, "create", "study", collaboration_id=payload.collaboration_id)
    collab = ctx.session.get(Collaboration, payload.collaboration_id)
    if collab is None:
        raise NotFoundError(f"collaboration_id: no collaboration {payload.collaboration_id}",
                              details={"field": "collaboration_id"})
    study = Study(name=payload.name, collaboration_id=collab.id,
                  organizations=_members(ctx, collab, payload.organization_ids))
    ctx.session.add(study)
    flush_unique(ctx, f"a study named {payload.name!r} in this collaboration")
    return study


def update_study(ctx: ServiceContext, study_id: int, payload: StudyPatch) -> Study:
    study = get_study(ctx, study_id)
    require(ctx.me, "edit", "study", collaboration_id=study.collaboration_id)
    data = payload.model_dump(exclude_unset=True)
    if data.get("name") is not None:
        study.name = data["name"]
    if data.get("organization_ids") is not None:
        collab = ctx.session.get(Collaboration, study.collaboration_id)
        assert collab is not None
        study.organizations = _members(ctx, collab, data["organization_ids"])
    flush_unique(ctx, f"a study named {study.name!r} in this collaboration")
    return study


def delete_study(ctx: ServiceContext, study_id: int) -> None:
    study = get_study(ctx, study_id)
    require(ctx.me, "delete", "study", collaboration_id=study.collaboration_id)
    ctx.session.delete(study)
    ctx.session.flush()
