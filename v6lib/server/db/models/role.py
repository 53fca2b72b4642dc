"""The ``role`` table (a named bundle of rules) and the rule/role association tables."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from v6lib.server.db.base import Base, CreatedAtMixin, IdMixin
from v6lib.server.db.models.rule import Rule

role_rule = Table(
    "role_rule",
    Base.metadata,
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
    Column("rule_id", ForeignKey("rule.id", ondelete="CASCADE"), primary_key=True),
)

user_role = Table(
    "user_role",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)

user_rule = Table(
    "user_rule",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("rule_id", ForeignKey("rule.id", ondelete="CASCADE"), primary_key=True),
)


class Role(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # NULL means a global role any organization's users may be given.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    rules: Mapped[list[Rule]] = relationship(
        secondary=role_rule, lazy="selectin", order_by=Rule.id
    )

    @property
    def rule_ids(self) -> list[int]:
        return [rule.id for rule in self.rules]
