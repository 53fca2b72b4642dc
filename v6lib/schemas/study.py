"""Study payloads: a named subset of a collaboration's organizations."""

from __future__ import annotations

from pydantic import Field

from ._base import DbId, InModel, Name, OutModel

__all__ = ["StudyIn", "StudyOut", "StudyPatch"]


class StudyIn(InModel):
    name: Name
    collaboration_id: DbId
    organization_ids: list[DbId] = Field(default_factory=list)


class StudyPatch(InModel):
    name: Name | None = None
    organization_ids: list[DbId] | None = None


class StudyOut(OutModel):
    id: int
    name: str
    collaboration_id: int
    organization_ids: list[int]
