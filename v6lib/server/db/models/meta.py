"""The ``server_meta`` table: small server-wide key/value facts (e.g. the signing secret)."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from v6lib.server.db.base import Base


class ServerMeta(Base):
    __tablename__ = "server_meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
