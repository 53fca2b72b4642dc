"""The ``user`` table: a person of an organization, with roles and extra rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from v6lib.server.db.base import Base, CreatedAtMixin, IdMixin
from v6lib.server.db.models.role import Role, user_role, user_rule
from v6lib.server.db.models.rule import Rule


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "user"

    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    firstname: Mapped[str | None] = mapped_column(String(100))
    lastname: Mapped[str | None] = mapped_column(String(100))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    # TOTP time step of the last accepted code: a code is accepted once only.
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)
    # Tokens issued before this moment are refused (password change, reset).
    password_changed_at: Mapped[datetime | None]
    # Goes up by one on every password change or reset; user tokens carry the value
    # they were issued with ("gen") and are refused once it no longer matches.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Digest of the one outstanding password-reset token and when it expires.
    reset_token_hash: Mapped[str | None] = mapped_column(String(128))
    reset_token_expires_at: Mapped[datetime | None]

    roles: Mapped[list[Role]] = relationship(
        secondary=user_role, lazy="selectin", order_by=Role.id
    )
    rules: Mapped[list[Rule]] = relationship(
        secondary=user_rule, lazy="selectin", order_by=Rule.id
    )

    @property
    def role_ids(self) -> list[int]:
        return [role.id for role in self.roles]

    @property
    def rule_ids(self) -> list[int]:
        return [rule.id for rule in self.rules]
