"""The ``collaboration`` table and its many-to-many link to organizations."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from v6lib.server.db.base import Base, CreatedAtMixin, IdMixin
from v6lib.server.db.models.organization import Organization

collaboration_organization = Table(
    "collaboration_organization",
    Base.metadata,
    Column("collaboration_id", ForeignKey("collaboration.id", ondelete="CASCADE"),
           primary_key=True),
    Column("organization_id", ForeignKey("organization.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)


class Collaboration(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "collaboration"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    organizations: Mapped[list[Organization]] = relationship(
        secondary=collaboration_organization, lazy="selectin", order_by=Organization.id
    )

    @property
    def organization_ids(self) -> list[int]:
        return [org.id for org in self.organizations]
