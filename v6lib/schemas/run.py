"""Run and result payloads, and the node's status update (PATCH /run/{id})."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ._base import Base64Str, InModel, OutModel
from .run_status import RunStatus

__all__ = ["ResultOut", "RunOut", "RunPatch"]


class RunPatch(InModel):
    status: RunStatus
    result: Base64Str | None = Field(default=None, max_length=100_000_000)
    log: str | None = Field(default=None, max_length=10_000_000)
    reason: str | None = Field(default=None, max_length=10_000)


class RunOut(OutModel):
    id: int
    task_id: int
    organization_id: int
    node_id: int | None = None
    status: RunStatus
    input: str
    result: str | None = None
    log: str | None = None
    reason: str | None = None
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ResultOut(OutModel):
    """A run seen as a result: ``id`` is the run's id."""

    id: int
    run_id: int
    task_id: int
    organization_id: int
    status: RunStatus
    result: str | None = None
    log: str | None = None
