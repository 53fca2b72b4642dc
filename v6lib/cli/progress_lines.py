"""One line per change of a run's progress, for ``v6 task create --wait``.

Plain lines (not a redrawn screen) on standard error, so they read the same in a
terminal, a CI log and a file; a run's line appears only when its progress changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["progress_line"]

BAR_WIDTH = 20


def progress_line(run: Mapping[str, Any], width: int = BAR_WIDTH) -> str:
    """``organization 3  [##########----------]  50%  step 5/10`` for ``run``."""
    fraction = min(1.0, max(0.0, float(run.get("progress") or 0.0)))
    filled = round(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    message = run.get("progress_message") or ""
    line = f"organization {run.get('organization_id')}  [{bar}] {round(fraction * 100):3d}%"
    return f"{line}  {message}" if message else line
