"""A tiny algorithm for node tests: echo a value, optionally after sleeping, or fail."""

from __future__ import annotations

import time
from typing import Any

from v6lib.wrappers import data

__all__ = ["crosstab", "echo", "fail", "rows", "sleep_echo"]


def echo(value: Any) -> dict[str, Any]:
    """Return the value, so a test sees its input travel through the node."""
    return {"echo": value}


def sleep_echo(seconds: float, value: Any, marker: str | None = None) -> dict[str, Any]:
    """Sleep, then echo: a long run that a test can kill or interrupt.

    ``marker``: a file that gets one line per execution, so a test can count them.
    """
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write("started\n")
    time.sleep(float(seconds))
    return {"echo": value, "slept": seconds}


def fail(message: str) -> None:
    """Raise, so the runner exits non-zero with a traceback in the log."""
    raise RuntimeError(message)


@data(1)
def crosstab(df: Any, rows: str, columns: str, suppress: int = 0) -> Any:
    """A count table, its small cells suppressed when ``suppress`` is given."""
    from v6lib.wrappers.aggregates import count_table, suppress_small_cells

    table = count_table(df, rows, columns)
    return suppress_small_cells(table, suppress) if suppress else table


@data(1)
def rows(df: Any) -> Any:
    """Every row: what a node's row-level rule must keep at the node."""
    return df.drop(columns=["id"], errors="ignore")
