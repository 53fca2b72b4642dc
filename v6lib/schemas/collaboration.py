"""Collaboration payloads: organizations that agreed to analyse together."""

from __future__ import annotations

from pydantic import Field, StrictBool

from ._base import DbId, InModel, Name, OutModel

__all__ = ["CollaborationIn", "CollaborationOut", "CollaborationPatch", "IdRef"]


class CollaborationIn(InModel):
    name: Name
    encrypted: StrictBool = False
    organization_ids: list[DbId] = Field(default_factory=list)


class CollaborationPatch(InModel):
    name: Name | None = None
    encrypted: StrictBool | None = None
    organization_ids: list[DbId] | None = None


class CollaborationOut(OutModel):
    id: int
    name: str
    encrypted: bool
    organization_ids: list[int]


class IdRef(InModel):
    """``{"id": n}``: names one resource, e.g. the organization to add or remove."""

    id: DbId
