"""The algorithm of the AlgorithmApi contract suite: the subtasks it creates run these on
the MockNetwork and on the real nodes of a LocalFederation alike."""

from __future__ import annotations

import time
from typing import Any

from v6lib.wrappers import RunMetadata, metadata


@metadata
def echo(meta: RunMetadata, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Where the run ran, and what it was given."""
    return {"organization_id": meta.organization_id, "args": list(args), "kwargs": kwargs}


@metadata
def sleep(meta: RunMetadata, seconds: float) -> None:
    """Nothing, after ``seconds``."""
    time.sleep(seconds)


@metadata
def fail(meta: RunMetadata) -> None:
    raise RuntimeError("boom")
