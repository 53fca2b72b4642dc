"""The ``study`` table: a subset of a collaboration's organizations."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from v6lib.server.db.base import Base, CreatedAtMixin, IdMixin
from v6lib.server.db.models.organization import Organization

study_organization = Table(
    "study_organization",
    Base.metadata,
    Column("study_id", ForeignKey("study.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", ForeignKey("organization.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)


class Study(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "study"
    __table_args__ = (UniqueConstraint("collaboration_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaboration.id", ondelete="CASCADE"), index=True
    )
    organizations: Mapped[list[Organization]] = relationship(
        secondary=study_organization, lazy="selectin", order_by=Organization.id
    )

    @property
    def organization_ids(self) -> list[int]:
        return [org.id for org in self.organizations]
