"""Node payloads; the plain API key appears only in the answer that creates it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from ._base import DbId, InModel, Name, OutModel

__all__ = ["ApiKeyOut", "NodeAuditHead", "NodeCreated", "NodeIn", "NodeOut", "NodePatch",
           "NodeStatus"]


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
    # the node's audit trail as it last published it: entries and the last one's hash
    audit_count: int | None = None
    audit_head: str | None = None
    audit_published_at: datetime | None = None


class NodeAuditHead(InModel):
    """The head of a node's audit trail: how many entries, the SHA-256 of the last."""

    count: int = Field(ge=0)
    head: str = Field(pattern=r"^[0-9a-f]{64}$")


class NodeCreated(NodeOut):
    api_key: str


class ApiKeyOut(OutModel):
    api_key: str
