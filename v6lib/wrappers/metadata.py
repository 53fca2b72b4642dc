"""Who and where a run is: the ids an algorithm may ask about (``@metadata``, its client).

Its own module, free of any import of the client or the context, so the algorithm
client and the run's context can both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RunMetaData", "RunMetadata"]


@dataclass(frozen=True, kw_only=True)
class RunMetadata:
    """Who and where this run is. The ids come from the container token's claims, the
    paths from the container environment (or the mock's); any of them may be None when
    the token or environment does not carry it."""

    task_id: int | None = None
    organization_id: int | None = None
    collaboration_id: int | None = None
    run_id: int | None = None
    job_id: int | None = None
    node_id: int | None = None
    study_id: int | None = None
    image: str | None = None
    databases: tuple[Mapping[str, Any], ...] = ()
    temporary_folder: Path | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    token_file: Path | None = None

    @property
    def temporary_directory(self) -> Path | None:
        """vantage6's name of :attr:`temporary_folder`, for algorithms ported from it."""
        return self.temporary_folder


RunMetaData = RunMetadata
"""vantage6's name of :class:`RunMetadata` (its fields are here, under the same names)."""
