"""The ``node`` table: one per organization and collaboration, logging in by API key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.auth.api_keys import SELECTOR_LENGTH
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
    # NOTE: a key is ``<selector>.<secret>``: the random selector finds the row (NULL for
    # a key of the old format, which can no longer log in); ``api_key_hash`` is the
    # argon2 hash of the secret that proves the key.
    api_key_selector: Mapped[str | None] = mapped_column(String(SELECTOR_LENGTH), unique=True,
                                                         index=True)
    api_key_hash: Mapped[str] = mapped_column(String(255))
    # Goes up by one on every API key reset; node tokens carry the value they were
    # issued with ("gen") and are refused once it no longer matches.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(20), default="offline")
    last_seen_at: Mapped[datetime | None]
    # The head of the node's audit trail as the node last published it (v6lib.node.audit):
    # a trail found shorter, or with another entry at this count, was tampered with.
    audit_count: Mapped[int | None] = mapped_column(Integer)
    audit_head: Mapped[str | None] = mapped_column(String(64))
    audit_published_at: Mapped[datetime | None]
