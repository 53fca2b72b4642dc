"""Health and version payloads (no authentication needed)."""

from __future__ import annotations

from ._base import OutModel

__all__ = ["HealthOut", "VersionOut"]


class HealthOut(OutModel):
    status: str
    database: str


class VersionOut(OutModel):
    version: str
    api: int
