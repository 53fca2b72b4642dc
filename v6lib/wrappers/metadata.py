"""Who and where a run is: the ids an algorithm may ask about (``@metadata``, its client).

Its own module, free of any import of the client or the context, so the algorithm
client and the run's context can both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunMetadata"]


@dataclass(frozen=True, kw_only=True)
class RunMetadata:
    """Who and where this run is. Values come from the container token's claims (or the
    mock); any of them may be None when the token does not carry it."""

    task_id: int | None = None
    organization_id: int | None = None
    collaboration_id: int | None = None
    run_id: int | None = None
    job_id: int | None = None
    node_id: int | None = None
    image: str | None = None
    temporary_folder: Path | None = None
