"""The ``login_throttle`` table: login attempts per (account, source address).

Kept in the database, not in memory, so every worker and server instance counts the
same attempts; one row per pair, locked while an attempt takes its slot
(``services.login_throttle``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    # "user:<username as given>" or "node:<API key selector>" ("node:?" for a malformed
    # key); the username as given, so unknown and known names are throttled alike
    subject: Mapped[str] = mapped_column(String(120), primary_key=True)
    # client address (IPv6: its /64), see ``client_address.source_key``
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
