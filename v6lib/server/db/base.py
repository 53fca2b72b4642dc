"""Declarative base shared by every server table, with stable constraint names.

A naming convention makes Alembic migrations deterministic across SQLite and
PostgreSQL: constraints get the same names no matter which backend created them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time, timezone-aware in UTC (the only time zone the server stores)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamp stored as UTC and always returned timezone-aware.

    SQLite drops tzinfo; PostgreSQL keeps it. Normalising here means the rest
    of the server never compares naive with aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Root of all server models; owns the shared MetaData."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class IdMixin:
    """Integer surrogate primary key named ``id``, never reused (see ``__init_subclass__``).

    Why never reused: ids leave the server and outlive their rows. A node journals runs
    by id and never executes a journaled run twice; tokens name their user, node and
    run by id. SQLite without AUTOINCREMENT hands the highest deleted id out again, so a
    new run would be taken for an old one, or an old token for a new user.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    __table_args__: Any  # each model's own (as DeclarativeBase declares it), extended below

    def __init_subclass__(cls, **kwargs: object) -> None:
        args = cls.__dict__.get("__table_args__", ())
        if isinstance(args, tuple):
            cls.__table_args__ = (*args, {"sqlite_autoincrement": True})
        elif isinstance(args, dict):
            cls.__table_args__ = {**args, "sqlite_autoincrement": True}
        super().__init_subclass__(**kwargs)


class CreatedAtMixin:
    """``created_at`` timestamp filled in by Python (clock-independent of the DB)."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
