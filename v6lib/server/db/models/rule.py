"""The ``rule`` table: one permission (resource x scope x operation)."""

from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base, IdMixin


class Rule(IdMixin, Base):
    __tablename__ = "rule"
    __table_args__ = (UniqueConstraint("name", "scope", "operation"),)

    name: Mapped[str] = mapped_column(String(50))
    scope: Mapped[str] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(20))
