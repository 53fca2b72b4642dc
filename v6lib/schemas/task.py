"""Task payloads: what to run (image, per-organization input) and where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from ._base import Base64Str, DbId, InModel, OutModel
from .run_status import RunStatus

__all__ = ["MAX_TASK_RUN_SECONDS", "DatabaseRef", "TaskIn", "TaskOrganization", "TaskOut",
           "TaskStatus"]

# A task's status is one of the run statuses; it is derived from its runs.
TaskStatus = RunStatus

MAX_TASK_RUN_SECONDS = 366 * 24 * 3600.0
"""The longest run time limit a task may ask for (a year)."""


#: vantage6's sealed input: ``<RSA-wrapped key>$<IV>$<AES-CTR ciphertext>``, each base64
VANTAGE6_SEALED_SEPARATOR = "$"

VANTAGE6_SEALED_REFUSAL = (
    "this input is sealed in vantage6's format (an RSA-wrapped key, an IV and AES-CTR "
    "ciphertext joined by '$'), which v6lib does not accept: AES-CTR without "
    "authentication lets anyone who stores or relays the input change it undetected. "
    "Create tasks of encrypted collaborations with v6lib's client (v6lib.client.Client), "
    "which seals inputs with authenticated encryption bound to the task")


class TaskOrganization(InModel):
    id: DbId
    input: Base64Str = Field(max_length=50_000_000)

    @field_validator("input", mode="before")
    @classmethod
    def _not_vantage6_sealed(cls, value: object) -> object:
        """Name vantage6's encryption format instead of calling it bad base64."""
        if isinstance(value, str) and \
                value.count(VANTAGE6_SEALED_SEPARATOR) == 2 and \
                all(value.split(VANTAGE6_SEALED_SEPARATOR)):
            raise ValueError(VANTAGE6_SEALED_REFUSAL)
        return value


class DatabaseRef(InModel):
    """Which node database the algorithm gets, optionally with a query or sheet."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100)
    query: str | None = Field(default=None, max_length=100_000)
    sheet_name: str | None = Field(default=None, max_length=200)
    preprocessing: list[dict[str, Any]] | None = None


class TaskIn(InModel):
    collaboration_id: DbId
    study_id: DbId | None = None
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    image: str = Field(min_length=1, max_length=500)
    organizations: list[TaskOrganization] = Field(min_length=1, max_length=10_000)
    databases: list[DatabaseRef] = Field(default_factory=list, max_length=100)
    uid: str | None = Field(default=None, min_length=1, max_length=64)
    # the run time limit the researcher asks for; each node applies the shorter of it
    # and its own (v6lib.rules.time_limits)
    max_run_seconds: float | None = Field(default=None, gt=0, le=MAX_TASK_RUN_SECONDS,
                                          strict=True)

    @field_validator("organizations")
    @classmethod
    def _unique_organizations(cls, value: list[TaskOrganization]) -> list[TaskOrganization]:
        seen: set[int] = set()
        for org in value:
            if org.id in seen:
                raise ValueError(f"organization {org.id} is listed twice")
            seen.add(org.id)
        return value


class TaskOut(OutModel):
    id: int
    uid: str
    name: str
    description: str
    image: str
    collaboration_id: int
    study_id: int | None = None
    init_org_id: int | None = None
    init_user_id: int | None = None
    parent_id: int | None = None
    job_id: int | None = None
    databases: list[dict[str, Any]]
    status: RunStatus
    created_at: datetime
    max_run_seconds: float | None = None
