"""Run and result payloads, and the node's status update (PATCH /run/{id})."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from ._base import Base64Str, InModel, OutModel
from .run_status import RunStatus
from .task import TaskOut

__all__ = ["INLINE_RESULT_BYTES", "ResultOut", "RunClaimOut", "RunOut", "RunPatch",
           "RunProgressIn", "RunResultOut"]

#: Results above this size are not inlined in JSON answers: ``result`` is null and
#: ``result_size`` tells the client to fetch the bytes from ``GET /run/{id}/result``.
INLINE_RESULT_BYTES = 16 * 1024 * 1024


def _decoded_size(value: str) -> int:
    return len(value) * 3 // 4 - len(value[-2:]) + len(value[-2:].rstrip("="))


class _SizedResult(OutModel):
    """``result`` (base64) inline up to ``INLINE_RESULT_BYTES``; ``result_size`` always."""

    result: str | None = None
    result_size: int | None = None

    @model_validator(mode="after")
    def _inline_or_size(self) -> _SizedResult:
        if self.result is not None:
            self.result_size = _decoded_size(self.result)
            if self.result_size > INLINE_RESULT_BYTES:
                self.result = None
        return self


class RunPatch(InModel):
    status: RunStatus
    result: Base64Str | None = Field(default=None, max_length=100_000_000)
    log: str | None = Field(default=None, max_length=10_000_000)
    reason: str | None = Field(default=None, max_length=10_000)


class RunProgressIn(InModel):
    """``POST /run/{id}/progress``: a node forwards its algorithm's progress (already
    reduced by :mod:`v6lib.rules.progress`, which the server applies again)."""

    progress: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    # a bound on the request only: the rule keeps its own, shorter limit
    message: str = Field(default="", max_length=1000)


class RunOut(_SizedResult):
    id: int
    task_id: int
    organization_id: int
    node_id: int | None = None
    status: RunStatus
    input: str
    log: str | None = None
    reason: str | None = None
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # how far the run is (0.0 to 1.0, whole percent) and the node's short message, while
    # it runs (v6lib.rules.progress); None before its first report
    progress: float | None = None
    progress_message: str | None = None


class ResultOut(_SizedResult):
    """A run seen as a result: ``id`` is the run's id."""

    id: int
    run_id: int
    task_id: int
    organization_id: int
    status: RunStatus
    log: str | None = None


class RunClaimOut(OutModel):
    """``POST /run/{id}/claim``: everything a node needs to start a run it claimed.

    One model for the server's reply and the node's parsing, so a change of either side
    fails the other's tests.
    """

    run: RunOut
    task: TaskOut
    container_token: str


class RunResultOut(OutModel):
    """``PUT /run/{id}/result``: what a raw result upload stored."""

    run_id: int
    size: int
    sha256: str
    stored: str
    changed: bool
