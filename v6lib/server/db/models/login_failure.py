"""The ``login_failure`` table: failed node logins per client address, for rate limiting.

A bad API key names no node, so the failures cannot be counted on a node row as they
are on a user row; they are counted per client address instead, in the database so
every worker and server instance sees the same count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base


class LoginFailure(Base):
    __tablename__ = "login_failure"

    # "node:<client address>"; the prefix leaves room for other kinds of callers
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None]
