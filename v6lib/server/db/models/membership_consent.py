"""The ``membership_consent`` table: one side's agreement that an organization joins.

An organization becomes a member of a collaboration only when both sides agreed: the
collaboration (an administrator of a member organization) invites it, and the
organization (one of its own administrators) accepts. Whichever comes first is kept
here until the other arrives; Root does both at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base


class MembershipConsent(Base):
    __tablename__ = "membership_consent"

    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaboration.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True, index=True)
    # "collaboration" (an invitation) or "organization" (an acceptance)
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime]
