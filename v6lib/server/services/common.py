"""Helpers every service shares: visible lookups, pagination, link filters and id checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CompoundSelect, Select, func, select
from sqlalchemy.orm import Session

from v6lib.errors import NotFoundError
from v6lib.server.db.base import Base
from v6lib.server.db.models import Organization
from v6lib.server.permissions.policy import require, visible_filter
from v6lib.server.permissions.principal import Principal
from v6lib.server.services.context import ServiceContext

__all__ = ["check_ids_exist", "creation_organization", "get_visible", "linked", "paginate",
           "paginate_ids"]

M = TypeVar("M", bound=Base)


def get_visible(session: Session, model: type[M], item_id: int, principal: Principal,
                resource: str) -> M:
    """The row ``item_id`` if it exists and ``principal`` may view it, else ``NotFoundError``.

    NOTE: an invisible row answers 404, not 403, so ids of others' things do not leak.
    """
    stmt = select(model).where(model.id == item_id,  # type: ignore[attr-defined]
                               visible_filter(principal, resource, "view"))
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFoundError(f"{resource} {item_id} does not exist or is not visible to you")
    return row


def paginate(session: Session, stmt: Select[Any], page: int, per_page: int,
             total: Select[Any] | None = None) -> tuple[Sequence[Any], int]:
    """One page of ``stmt`` and the total count of its rows, in one round trip.

    ``total`` replaces counting the rows of ``stmt`` where a cheaper count of the same
    rows exists (one that reads indexes, not rows).
    """
    if total is None:
        total = select(func.count()).select_from(stmt.order_by(None).subquery())
    return _with_total(session, stmt.limit(per_page).offset((page - 1) * per_page), total)


def _with_total(session: Session, page: Select[Any],
                total: Select[Any]) -> tuple[Sequence[Any], int]:
    """The first column of ``page``'s rows and ``total``, computed once.

    ``total`` rides along the page as a last column, so a page costs one round trip to
    the database; only a page past the end, which has no row to carry it, asks for it
    apart.
    """
    rows = session.execute(page.add_columns(total.scalar_subquery())).all()
    if not rows:
        return [], int(session.scalar(total) or 0)
    return [row[0] for row in rows], int(rows[0][-1] or 0)


def paginate_ids(session: Session, model: type[M], page: int, per_page: int,
                 ids: Callable[[int | None], Select[Any] | CompoundSelect],
                 total: Select[Any]) -> tuple[Sequence[M], int]:
    """One page of ``model`` rows, in id order, whose ids ``ids(limit)`` selects, and
    ``total`` (their count).

    ``ids(limit)`` gives at least the ``limit`` lowest matching ids: the page reads no
    further than it shows.
    """
    end = page * per_page
    key = model.id  # type: ignore[attr-defined]
    return _with_total(session, select(model).where(key.in_(ids(end))).order_by(key)
                       .limit(per_page).offset(end - per_page), total)


def check_ids_exist(session: Session, model: type[M], ids: Iterable[int],
                    field: str) -> list[M]:
    """Load rows by id, or fail naming the ids that do not exist."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    rows = session.scalars(select(model).where(model.id.in_(wanted))).all()  # type: ignore[attr-defined]
    found = {row.id for row in rows}  # type: ignore[attr-defined]
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"{field}: no such id(s) {missing}", details={"field": field})
    by_id = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [by_id[i] for i in wanted]


def linked(wanted: ColumnElement[Any], key: ColumnElement[Any], value: int) -> Select[Any]:
    """The ``wanted`` ids of a link table's rows whose ``key`` is ``value``, for ``in_``."""
    return select(wanted).where(key == value)


def creation_organization(ctx: ServiceContext, organization_id: int | None,
                          resource: str) -> int:
    """The organization a new ``resource`` goes to (default: the caller's), once allowed.

    Permission is checked before existence, so a caller without the right learns nothing
    about which organization ids exist.
    """
    org_id = organization_id or ctx.me.organization_id
    require(ctx.me, "create", resource, organization_ids=[org_id])
    if ctx.session.get(Organization, org_id) is None:
        raise NotFoundError(f"organization_id: no organization {org_id}",
                            details={"field": "organization_id"})
    return org_id
