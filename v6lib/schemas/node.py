"""Node payloads; the plain API key appears only in the answer that creates it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from ._base import DbId, InModel, Name, OutModel

__all__ = ["ApiKeyOut", "NodeCreated", "NodeIn", "NodeOut", "NodePatch", "NodeStatus"]


class NodeStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class NodeIn(InModel):
    collaboration_id: DbId
    organization_id: DbId | None = None  # defaults to the caller's organization
    name: Name | None = None


class NodePatch(InModel):
    name: Name | None = None


class NodeOut(OutModel):
    id: int
    name: str
    organization_id: int
    collaboration_id: int
    status: NodeStatus
    last_seen_at: datetime | None = None


class NodeCreated(NodeOut):
    api_key: str


class ApiKeyOut(OutModel):
    api_key: str
