"""The ``node`` table: one per organization and collaboration, logging in by API key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base, CreatedAtMixin, IdMixin


class Node(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "node"
    __table_args__ = (UniqueConstraint("organization_id", "collaboration_id"),)

    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaboration.id", ondelete="CASCADE"), index=True
    )
    # NOTE: ``api_key_lookup`` is a short non-secret digest used to find the row;
    # ``api_key_hash`` is the KDF hash that actually proves the key.
    api_key_lookup: Mapped[str] = mapped_column(String(32), index=True)
    api_key_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="offline")
    last_seen_at: Mapped[datetime | None]
